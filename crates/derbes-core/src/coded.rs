//! Enums whose values are written as codes (`snake_case` words): in JSON, in the database and
//! at the command line. One declaration, [`coded_enum!`](crate::coded_enum), gives the enum with
//! its serde names, every value in order (`ALL`), each value's code, `Display` and a `FromStr`
//! whose error names the codes it accepts.

/// Declares a coded enum: `enum Name ("what a value is") { Variant = "code", … }`. The calling
/// crate depends on serde.
#[macro_export]
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [$name; [$($code),+].len()] = [$($name::$variant),+];

            /// The value's code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $crate::coded::parse(s, &Self::ALL, Self::code, $what)
            }
        }
    };
}

/// The value of `all` whose code is `s`; else an error naming the codes, in order.
pub fn parse<T: Copy>(
    s: &str,
    all: &[T],
    code: fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    all.iter().copied().find(|v| code(*v) == s).ok_or_else(|| {
        let codes: Vec<&str> = all.iter().map(|v| code(*v)).collect();
        format!("unknown {what} `{s}`; use one of: {}", codes.join(", "))
    })
}

#[cfg(test)]
mod tests {
    crate::coded_enum! {
        /// A test enum.
        enum Tide ("tide") {
            /// Coming in.
            Flood = "flood",
            SlackWater = "slack_water",
        }
    }

    #[test]
    fn codes_name_values_in_text_and_json_alike() {
        assert_eq!(Tide::ALL, [Tide::Flood, Tide::SlackWater]);
        for t in Tide::ALL {
            assert_eq!(t.to_string(), t.code());
            assert_eq!(t.code().parse::<Tide>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.code());
        }
        assert_eq!(
            "ebb".parse::<Tide>(),
            Err("unknown tide `ebb`; use one of: flood, slack_water".into())
        );
    }
}
