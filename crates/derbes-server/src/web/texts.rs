//! Every sentence of the console, in Kazakh, Russian and English: templates read them as
//! `t.<key>`, and a key missing from the table stops the page from rendering (tested).

use derbes_core::text::Lang;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// (key, [kk, ru, en])
const TEXTS: &[(&str, [&str; 3])] = &[
    ("console", ["derbes консолі", "Консоль derbes", "derbes console"]),
    ("skip", ["Негізгі мазмұнға өту", "Перейти к основному содержанию", "Skip to the main content"]),
    ("language", ["Тіл", "Язык", "Language"]),
    ("nav", ["Консоль бөлімдері", "Разделы консоли", "Console sections"]),
    ("nav_today", ["Бүгін", "Сегодня", "Today"]),
    ("nav_account", ["Менің тіркелгім", "Моя учётная запись", "My account"]),
    ("nav_access", ["Қолжетімділік", "Доступ", "Access"]),
    ("sign_out", ["Шығу", "Выйти", "Sign out"]),
    // Sign-in
    ("sign_in_title", ["Консольге кіру", "Вход в консоль", "Sign in to the console"]),
    ("login", ["Логин", "Логин", "Login"]),
    ("password", ["Құпиясөз", "Пароль", "Password"]),
    ("sign_in", ["Кіру", "Войти", "Sign in"]),
    (
        "refused",
        [
            "Логин немесе құпиясөз қате, не болмаса сәтсіз әрекеттерден кейін кіру уақытша тоқтатылған. Бірнеше минуттан соң қайталаңыз немесе әкімшіге хабарласыңыз.",
            "Неверный логин или пароль, либо вход временно приостановлен после неудачных попыток. Повторите через несколько минут или обратитесь к администратору.",
            "The login or password is wrong, or sign-in is paused after failed attempts. Try again in a few minutes or ask an administrator.",
        ],
    ),
    (
        "session_ended",
        [
            "Сессия аяқталды (шығу, ұзақ әрекетсіздік немесе мерзімнің өтуі). Қайта кіріңіз.",
            "Сеанс завершён (выход, долгое бездействие или истечение срока). Войдите снова.",
            "The session has ended (signed out, idle too long, or expired). Sign in again.",
        ],
    ),
    (
        "form_refused",
        [
            "Форманың мерзімі өтіп кеткен немесе ол басқа беттен жіберілген. Бетті жаңартып, қайта жіберіңіз.",
            "Форма устарела или отправлена с другой страницы. Обновите страницу и отправьте её снова.",
            "The form has expired or was sent from another page. Reload the page and send it again.",
        ],
    ),
    // Second factor
    ("second_factor_title", ["Екінші фактор", "Второй фактор", "Second factor"]),
    (
        "code",
        [
            "Аутентификатор қосымшасындағы код (6 цифр)",
            "Код из приложения-аутентификатора (6 цифр)",
            "Code from your authenticator app (6 digits)",
        ],
    ),
    ("confirm", ["Растау", "Подтвердить", "Confirm"]),
    (
        "wrong_code",
        [
            "Код қате немесе бұрын пайдаланылған. Қосымша дәл қазір көрсетіп тұрған кодты енгізіңіз.",
            "Код неверен или уже использован. Введите код, который приложение показывает сейчас.",
            "The code is wrong or was used already. Type the code the app shows now.",
        ],
    ),
    // New password
    ("new_password_title", ["Жаңа құпиясөз", "Новый пароль", "New password"]),
    (
        "new_password_intro",
        [
            "Әкімші берген бір реттік құпиясөзді өзіңіз таңдаған құпиясөзбен ауыстырыңыз: кемінде 12 таңба, логиніңізсіз.",
            "Замените одноразовый пароль, выданный администратором, своим паролем: не менее 12 символов, без вашего логина.",
            "Replace the one-time password the administrator gave you with one of your own: at least 12 characters, without your login.",
        ],
    ),
    ("new_password", ["Жаңа құпиясөз", "Новый пароль", "New password"]),
    ("repeat_password", ["Жаңа құпиясөзді қайталаңыз", "Повторите новый пароль", "Repeat the new password"]),
    ("save", ["Сақтау", "Сохранить", "Save"]),
    (
        "passwords_differ",
        [
            "Екі құпиясөз бір-біріне сәйкес келмейді.",
            "Пароли не совпадают.",
            "The two passwords differ.",
        ],
    ),
    (
        "same_password",
        [
            "Жаңа құпиясөз әкімші берген құпиясөзден өзгеше болуы тиіс.",
            "Новый пароль должен отличаться от выданного администратором.",
            "The new password must differ from the one the administrator gave you.",
        ],
    ),
    (
        "password_too_short",
        [
            "Құпиясөзде кемінде 12 таңба болуы тиіс.",
            "Пароль должен содержать не менее 12 символов.",
            "The password must have at least 12 characters.",
        ],
    ),
    (
        "password_too_long",
        [
            "Құпиясөз 256 таңбадан аспауы тиіс.",
            "Пароль должен содержать не более 256 символов.",
            "The password must have at most 256 characters.",
        ],
    ),
    (
        "password_contains_login",
        [
            "Құпиясөзде логин болмауы тиіс.",
            "Пароль не должен содержать логин.",
            "The password must not contain your login.",
        ],
    ),
    (
        "password_trivial",
        [
            "Құпиясөз бір таңбаның қайталануынан немесе қарапайым тізбектен тұрмауы тиіс.",
            "Пароль не должен состоять из одного повторяющегося символа или простой последовательности.",
            "The password must not be one character repeated or a plain sequence.",
        ],
    ),
    // Enrolling a second factor
    ("enrol_title", ["Екінші факторды қосу", "Подключение второго фактора", "Set up a second factor"]),
    (
        "enrol_intro",
        [
            "Аутентификатор қосымшасында (мысалы, Google Authenticator, Microsoft Authenticator, FreeOTP) QR кодты сканерлеңіз немесе кілтті қолмен енгізіңіз, содан кейін қосымша көрсеткен кодты теріңіз.",
            "Отсканируйте QR-код в приложении-аутентификаторе (например, Google Authenticator, Microsoft Authenticator, FreeOTP) или введите ключ вручную, затем введите код, который покажет приложение.",
            "Scan the QR code with an authenticator app (for example Google Authenticator, Microsoft Authenticator or FreeOTP) or type the key in by hand, then type the code the app shows.",
        ],
    ),
    ("qr_alt", ["Екінші фактордың QR коды", "QR-код второго фактора", "QR code of the second factor"]),
    ("secret_key", ["Қолмен енгізуге арналған кілт", "Ключ для ввода вручную", "Key to type in by hand"]),
    // My account
    ("account_title", ["Менің тіркелгім", "Моя учётная запись", "My account"]),
    ("name", ["Аты-жөні", "Имя", "Name"]),
    ("role", ["Рөлі", "Роль", "Role"]),
    ("purposes", ["Мақсаттары", "Цели", "Purposes"]),
    ("all_purposes", ["барлық мақсаттар", "все цели", "every purpose"]),
    ("second_factor", ["Екінші фактор", "Второй фактор", "Second factor"]),
    ("status", ["Күйі", "Состояние", "Status"]),
    ("created", ["Құрылған күні", "Создана", "Created"]),
    ("expires", ["Мерзімі өтеді", "Истекает", "Expires"]),
    ("last_used", ["Соңғы рет пайдаланылды", "Последнее использование", "Last used"]),
    ("never", ["ешқашан", "никогда", "never"]),
    ("none", ["жоқ", "нет", "none"]),
    // Access
    ("access_title", ["Қолжетімділік: тіркелгілер мен токендер", "Доступ: учётные записи и токены", "Access: accounts and tokens"]),
    ("accounts", ["Тіркелгілер", "Учётные записи", "Accounts"]),
    ("tokens", ["API токендері", "Токены API", "API tokens"]),
    ("token_name", ["Атауы", "Название", "Name"]),
    ("no_accounts", ["Тіркелгілер жоқ.", "Учётных записей нет.", "There are no accounts."]),
    ("no_tokens", ["Токендер жоқ.", "Токенов нет.", "There are no tokens."]),
    ("actions", ["Әрекеттер", "Действия", "Actions"]),
    ("enable", ["Қосу", "Включить", "Enable"]),
    ("disable", ["Өшіру", "Отключить", "Disable"]),
    ("reset_password", ["Құпиясөзді қайта орнату", "Сбросить пароль", "Reset the password"]),
    (
        "reset_second_factor_too",
        [
            "екінші факторды да қайта қосу (телефон жоғалса)",
            "также заново подключить второй фактор (если телефон утерян)",
            "also set up the second factor again (a lost phone)",
        ],
    ),
    ("new_account", ["Жаңа тіркелгі", "Новая учётная запись", "New account"]),
    (
        "login_hint",
        [
            "3–64 таңба: латын әріптері, цифрлар, «.», «_» немесе «-»; мысалы, aliya.serikova",
            "3–64 символа: латинские буквы, цифры, «.», «_» или «-»; например, aliya.serikova",
            "3–64 characters: Latin letters, digits, “.”, “_” or “-”; for example aliya.serikova",
        ],
    ),
    ("account_lang", ["Консоль тілі", "Язык консоли", "Console language"]),
    (
        "ask_second_factor",
        [
            "Кіру кезінде екінші факторды талап ету (әкімші мен жауапты адамнан әрқашан талап етіледі)",
            "Требовать второй фактор при входе (от администратора и ответственного лица — всегда)",
            "Ask for a second factor at sign-in (always asked of administrators and the responsible person)",
        ],
    ),
    ("create_account", ["Тіркелгі құру", "Создать учётную запись", "Create the account"]),
    ("new_token", ["Жаңа API токені", "Новый токен API", "New API token"]),
    ("expires_in_days", ["Қолданылу мерзімі, күн", "Срок действия, дней", "Valid for, days"]),
    (
        "expires_in_days_hint",
        [
            "1-ден {max}-ға дейін; бос қалдырылса, рөлге белгіленген мерзім қолданылады",
            "От 1 до {max}; если поле пусто, действует срок, установленный для роли",
            "From 1 to {max}; left empty, the role's default applies",
        ],
    ),
    ("create_token", ["Токен құру", "Создать токен", "Create the token"]),
    ("revoke", ["Күшін жою", "Отозвать", "Revoke"]),
    (
        "purposes_for_role",
        [
            "Мақсаттар (тек қызметкер мен платформа интеграциясы үшін)",
            "Цели (только для сотрудника и интеграции платформы)",
            "Purposes (for staff and platform integrations only)",
        ],
    ),
    (
        "password_issued",
        [
            "Бір реттік құпиясөз берілді. Тіркелгі:",
            "Выдан одноразовый пароль. Учётная запись:",
            "A one-time password is issued. Account:",
        ],
    ),
    (
        "password_issued_once",
        [
            "Құпиясөз тек осы жолы көрсетіледі. Оны адамға өзіңіз табыс етіңіз; бірінші кіргенде ол өз құпиясөзін таңдайды.",
            "Пароль показывается только сейчас. Передайте его человеку лично; при первом входе он выберет свой пароль.",
            "The password is shown only now. Hand it to the person yourself; at the first sign-in they choose their own.",
        ],
    ),
    ("token_issued", ["Токен құрылды:", "Создан токен:", "The token is created:"]),
    (
        "token_issued_once",
        [
            "Токен тек осы жолы көрсетіледі және тек дайджест түрінде сақталады. Оны бірден интеграцияның баптауларына көшіріңіз.",
            "Токен показывается только сейчас и хранится лишь в виде дайджеста. Сразу перенесите его в настройки интеграции.",
            "The token is shown only now and stored only as a digest. Copy it into the integration's settings at once.",
        ],
    ),
    (
        "account_disabled",
        [
            "«{login}» тіркелгісі өшірілді, оның сессиялары аяқталды.",
            "Учётная запись «{login}» отключена, её сеансы завершены.",
            "The account “{login}” is disabled and its sessions have ended.",
        ],
    ),
    (
        "account_enabled",
        [
            "«{login}» тіркелгісі қайта қосылды.",
            "Учётная запись «{login}» снова включена.",
            "The account “{login}” is enabled again.",
        ],
    ),
    (
        "token_revoked",
        [
            "«{name}» токенінің күші жойылды.",
            "Токен «{name}» отозван.",
            "The token “{name}” is revoked.",
        ],
    ),
    (
        "own_account",
        [
            "Әкімші өз тіркелгісін өшіре алмайды (консольге өзі кіре алмай қалар еді). Басқа әкімшіге жүгініңіз немесе командалық жолда `derbes users disable` пәрменін пайдаланыңыз.",
            "Администратор не может отключить свою учётную запись (он потерял бы доступ). Обратитесь к другому администратору или выполните `derbes users disable` в командной строке.",
            "An administrator cannot disable their own account (it would lock them out). Ask another administrator, or run `derbes users disable` at the command line.",
        ],
    ),
    (
        "access_not_found",
        [
            "Мұндай тіркелгі немесе токен жоқ; тізімді жаңартыңыз.",
            "Такой учётной записи или токена нет; обновите список.",
            "There is no such account or token; reload the list.",
        ],
    ),
    (
        "invalid_login",
        [
            "Логин 3–64 таңбадан тұруы тиіс: латын әріптері, цифрлар, «.», «_» немесе «-», бірінші таңбасы әріп не цифр.",
            "Логин должен содержать 3–64 символа: латинские буквы, цифры, «.», «_» или «-», первым — буква или цифра.",
            "The login must be 3–64 characters: Latin letters, digits, “.”, “_” or “-”, starting with a letter or digit.",
        ],
    ),
    (
        "taken_login",
        [
            "Бұл логинді басқа тіркелгі пайдаланады; басқасын таңдаңыз.",
            "Этот логин занят другой учётной записью; выберите другой.",
            "This login is taken by another account; choose another.",
        ],
    ),
    (
        "invalid_display_name",
        [
            "Аты-жөні 1–100 басылатын таңбадан тұруы тиіс: әріптестері білетін аты.",
            "Имя должно содержать от 1 до 100 печатных символов: так, как его знают коллеги.",
            "The name must be 1–100 printable characters: the person's name as colleagues know it.",
        ],
    ),
    ("invalid_role", ["Тізімдегі рөлдердің бірін таңдаңыз.", "Выберите одну из перечисленных ролей.", "Choose one of the listed roles."]),
    (
        "invalid_purposes",
        [
            "Қызметкер мен платформа интеграциясы тек белгіленген мақсаттар үшін әрекет етеді: кемінде біреуін белгілеңіз. Басқа рөлдер мақсаттармен шектелмейді: ешбірін белгілемеңіз.",
            "Сотрудник и интеграция платформы действуют только в отмеченных целях: отметьте хотя бы одну. Другие роли целями не ограничены: не отмечайте ни одной.",
            "Staff and platform integrations act only for the purposes ticked: tick at least one. Other roles are not limited to purposes: tick none.",
        ],
    ),
    (
        "invalid_name",
        [
            "Атауы 1–100 басылатын таңбадан тұруы тиіс.",
            "Название должно содержать от 1 до 100 печатных символов.",
            "The name must be 1–100 printable characters.",
        ],
    ),
    (
        "invalid_expires_in_days",
        [
            "1-ден {max}-ға дейінгі бүтін сан енгізіңіз немесе өрісті бос қалдырыңыз.",
            "Введите целое число от 1 до {max} или оставьте поле пустым.",
            "Give a whole number from 1 to {max}, or leave the field empty.",
        ],
    ),
    // Forms kept across a sign-in
    (
        "session_ended_form_kept",
        [
            "Сессия аяқталды, бірақ жіберілген форма сақталды. Қайта кіріңіз: содан кейін оны қайта жіберуге болады.",
            "Сеанс завершён, но отправленная форма сохранена. Войдите снова: затем её можно будет отправить повторно.",
            "Your session had ended, but the form you sent is kept. Sign in again, then send it once more.",
        ],
    ),
    ("resume_title", ["Форманы қайта жіберу", "Повторная отправка формы", "Send the form again"]),
    (
        "resume_intro",
        [
            "Сіз қайта кірдіңіз. Сессия аяқталғаннан кейін жіберілген форма сақталды, бірақ әлі орындалған жоқ. Оны қазір жіберу үшін батырманы басыңыз.",
            "Вы снова вошли. Форма, отправленная после завершения сеанса, сохранена, но ещё не выполнена. Нажмите кнопку, чтобы отправить её сейчас.",
            "You are signed in again. The form you sent after your session had ended is kept and has not been acted on. Press the button to send it now.",
        ],
    ),
    ("send_again", ["Қайта жіберу", "Отправить снова", "Send again"]),
    ("resume_cancel", ["Жібермей, консольге өту", "Не отправлять, перейти в консоль", "Do not send; go to the console"]),
    (
        "form_too_large",
        [
            "Форма тым үлкен. Оны қысқартып, қайта жіберіңіз.",
            "Форма слишком велика. Сократите её и отправьте снова.",
            "The form is too large. Shorten it and send it again.",
        ],
    ),
    ("refused_title", ["Бұл әрекетке рұқсат жоқ", "Это действие не разрешено", "This is not allowed"]),
    // Today
    ("today_title", ["Бүгін", "Сегодня", "Today"]),
    ("overdue_title", ["Мерзімі өткен өтініштер", "Просроченные запросы", "Overdue requests"]),
    ("due_today_title", ["Мерзімі бүгін аяқталатын өтініштер", "Запросы, срок которых истекает сегодня", "Requests due today"]),
    ("awaiting_approval_title", ["Бекітуді күтіп тұрған өтініштер", "Запросы, ожидающие утверждения", "Requests awaiting approval"]),
    ("none_overdue", ["Мерзімі өткен өтініш жоқ.", "Просроченных запросов нет.", "No request is overdue."]),
    ("none_due_today", ["Мерзімі бүгін аяқталатын өтініш жоқ.", "Запросов, срок которых истекает сегодня, нет.", "No request is due today."]),
    ("none_awaiting", ["Бекітуді күтіп тұрған өтініш жоқ.", "Запросов, ожидающих утверждения, нет.", "No request awaits approval."]),
    (
        "more_requests",
        [
            "Алғашқы {n} өтініш көрсетілген; қалғаны «Өтініштер» бөлімінде.",
            "Показаны первые {n} запросов; остальные — в разделе «Запросы».",
            "The first {n} requests are shown; the rest are under Requests.",
        ],
    ),
    ("request", ["Өтініш", "Запрос", "Request"]),
    ("received", ["Алынған күні", "Получен", "Received"]),
    ("due", ["Мерзімнің соңғы күні", "Последний день срока", "Last day of the term"]),
    ("overdue", ["мерзімі өтті", "просрочен", "overdue"]),
    ("why_this_day", ["Неге осы күн", "Почему этот день", "Why this day"]),
    ("audit_title", ["Аудит журналы", "Журнал аудита", "Audit trail"]),
    ("chain_state", ["Оқиғалар тізбегінің күйі", "Состояние цепочки событий", "State of the chain of events"]),
    ("chain_intact", ["бүтін", "целостна", "intact"]),
    (
        "chain_broken",
        [
            "бұзылған: derbes тіркелуге тиіс әрекеттердің бәрін тоқтатты",
            "нарушена: derbes отказывает во всех действиях, которые должны фиксироваться",
            "broken: derbes refuses every action it would have to record",
        ],
    ),
    ("chain_unverified", ["тексерілуде", "проверяется", "being verified"]),
    ("verified_through", ["Тексерілген соңғы оқиға", "Последнее проверенное событие", "Last event verified"]),
    ("last_verification", ["Соңғы толық тексеру", "Последняя полная проверка", "Last full verification"]),
    ("events_checked", ["{n} оқиға тексерілді", "проверено событий: {n}", "{n} events checked"]),
    ("last_checkpoint", ["Соңғы бақылау нүктесі", "Последняя контрольная точка", "Last checkpoint"]),
    ("last_export", ["Бақылау нүктесінің соңғы экспорты", "Последний экспорт контрольной точки", "Last checkpoint export"]),
    ("not_yet", ["әлі жоқ", "пока нет", "none yet"]),
    (
        "no_checkpoint_file",
        [
            "бақылау нүктелерінің файлы бапталмаған ([audit] checkpoint_file)",
            "файл контрольных точек не настроен ([audit] checkpoint_file)",
            "no checkpoint file is configured ([audit] checkpoint_file)",
        ],
    ),
    ("export_problem", ["Экспорт сәтсіз аяқталды", "Экспорт не удался", "The export failed"]),
    ("request_status_received", ["қабылданды", "получен", "received"]),
    ("request_status_identity_verified", ["жеке басы расталды", "личность подтверждена", "identity verified"]),
    ("request_status_awaiting_approval", ["бекітуді күтуде", "ожидает утверждения", "awaiting approval"]),
    ("request_status_in_progress", ["орындалуда", "выполняется", "in progress"]),
    ("request_status_completed", ["орындалды", "выполнен", "completed"]),
    ("request_status_rejected", ["қабылданбады", "отклонён", "rejected"]),
    ("request_status_withdrawn", ["өтініш беруші кері қайтарып алды", "отозван заявителем", "withdrawn by the requester"]),
    // Requests
    ("nav_requests", ["Өтініштер", "Запросы", "Requests"]),
    ("requests_title", ["Субъектілердің өтініштері", "Запросы субъектов", "Data subjects' requests"]),
    ("any", ["кез келген", "любой", "any"]),
    ("open_ones", ["қаралып жатқандары", "находящиеся в работе", "being handled"]),
    ("due_filter_any", ["кез келген мерзім", "любой срок", "any term"]),
    ("due_filter_overdue", ["мерзімі өткен", "просроченные", "overdue"]),
    ("due_filter_today", ["бүгінге дейін", "до конца сегодняшнего дня", "by the end of today"]),
    ("due_filter_week", ["7 күн ішінде", "в течение 7 дней", "within 7 days"]),
    ("apply_filters", ["Сүзу", "Применить фильтры", "Apply the filters"]),
    ("next_page", ["Келесі бет", "Следующая страница", "Next page"]),
    ("no_requests", ["Таңдалған сүзгілер бойынша өтініш жоқ.", "По выбранным фильтрам запросов нет.", "No request matches these filters."]),
    ("request_title", ["Өтініш", "Запрос", "Request"]),
    ("request_not_found", ["Өтініш табылмады", "Запрос не найден", "Request not found"]),
    ("request_not_found_detail", ["Мұндай өтініш жоқ. Оны «Өтініштер» тізімінен ашыңыз.", "Такого запроса нет. Откройте его из списка «Запросы».", "There is no such request. Open it from the list of requests."]),
    ("requester", ["Өтініш беруші", "Заявитель", "Requester"]),
    ("requester_subject", ["субъектінің өзі", "сам субъект", "the subject"]),
    ("requester_representative", ["заңды өкіл", "законный представитель", "a legal representative"]),
    ("subject_id", ["Субъектінің идентификаторы", "Идентификатор субъекта", "Subject's id"]),
    ("subject_id_hint", ["Субъектінің карточкасындағы UUID, мысалы 0190c2a4-…", "UUID из карточки субъекта, например 0190c2a4-…", "The UUID on the subject's record, e.g. 0190c2a4-…"]),
    ("representative_id", ["Заңды өкілдің идентификаторы", "Идентификатор законного представителя", "Legal representative's id"]),
    ("representative_id_hint", ["Өтінішті заңды өкіл берсе ғана толтырылады.", "Заполняется, только если запрос подал законный представитель.", "Only when a legal representative files the request."]),
    ("answer_language", ["Жауап тілі", "Язык ответа", "Language of the answer"]),
    ("request_purpose", ["Мақсаты", "Цель", "Purpose"]),
    ("request_purpose_hint", ["Өңдеуді шектеу, келісімді кері қайтарып алу және қарсылық үшін міндетті.", "Обязательна для ограничения обработки, отзыва согласия и возражения.", "Required for a restriction, a consent withdrawal and an objection."]),
    ("no_purpose", ["— көрсетілмеген —", "— не указана —", "— none —"]),
    ("requester_words", ["Өтініш берушінің сөздері", "Слова заявителя", "The requester's words"]),
    ("rejected_because", ["Бас тарту себебі", "Причина отказа", "Refused because"]),
    ("verification", ["Өтініш берушінің жеке басын растау", "Подтверждение личности заявителя", "Verifying the requester's identity"]),
    ("verified_by_code", ["Бір реттік кодпен расталды", "Подтверждена одноразовым кодом", "Confirmed with a one-time code"]),
    ("verified_by_document", ["Құжат бойынша расталды", "Подтверждена по документу", "Confirmed by a document"]),
    ("not_verified", ["Расталмаған.", "Не подтверждена.", "Not confirmed."]),
    ("send_code_intro", ["Код өтініш берушінің тіркелген электрондық поштасына жіберіледі.", "Код будет отправлен на электронную почту заявителя, указанную в его данных.", "The code goes to the requester's e-mail on file."]),
    ("send_code", ["Код жіберу", "Отправить код", "Send a code"]),
    ("request_code", ["Өтініш беруші айтқан код", "Код, который назвал заявитель", "The code the requester gives"]),
    ("check_code", ["Кодты тексеру", "Проверить код", "Check the code"]),
    ("request_code_rejected", ["Код сәйкес келмейді немесе оның мерзімі өтті.", "Код не совпадает или его срок истёк.", "The code does not match or has expired."]),
    ("document_checked", ["Тексерілген құжат", "Проверенный документ", "Document checked"]),
    ("document_note", ["Белгі (мөрленіп сақталады)", "Отметка (хранится в зашифрованном виде)", "Note (kept sealed)"]),
    ("verify_by_document", ["Құжат бойынша растау", "Подтвердить по документу", "Confirm by the document"]),
    ("document_id_card", ["жеке куәлік", "удостоверение личности", "identity card"]),
    ("document_passport", ["паспорт", "паспорт", "passport"]),
    ("document_birth_certificate", ["туу туралы куәлік", "свидетельство о рождении", "birth certificate"]),
    ("document_power_of_attorney", ["сенімхат", "доверенность", "power of attorney"]),
    ("document_court_decision", ["сот шешімі", "решение суда", "court decision"]),
    ("document_other", ["басқа құжат", "иной документ", "another document"]),
    ("next_steps", ["Келесі қадамдар", "Следующие шаги", "Next steps"]),
    ("step_submit", ["Шешімге жіберу", "Передать на решение", "Submit for a decision"]),
    ("step_approve", ["Бекіту және әрекеттерді орындау", "Утвердить и выполнить действия", "Approve and carry out the actions"]),
    ("block_until", ["Бұғаттаудың соңғы күні (тексеру кезеңі)", "Последний день блокирования (период проверки)", "Last day of the block (the verification period)"]),
    ("step_run_actions", ["Орындалмаған әрекеттерді қайталау", "Повторить невыполненные действия", "Run the pending actions again"]),
    ("step_complete", ["Аяқтау", "Завершить", "Complete"]),
    ("step_reject", ["Бас тарту", "Отказать", "Refuse"]),
    ("reject_reason", ["Бас тарту себебі", "Причина отказа", "Reason for refusing"]),
    ("step_withdraw", ["Өтініш беруші кері қайтарып алды", "Заявитель отозвал запрос", "The requester withdrew it"]),
    ("request_closed", ["Өтініш жабық.", "Запрос закрыт.", "The request is closed."]),
    ("actions_title", ["Әрекеттер", "Действия", "Actions"]),
    ("action", ["Әрекет", "Действие", "Action"]),
    ("when", ["Уақыты", "Время", "When"]),
    ("note", ["Белгі", "Отметка", "Note"]),
    ("action_block", ["бұғаттау", "блокирование", "block"]),
    ("action_unblock", ["бұғаттаудан шығару", "снятие блокирования", "lift the block"]),
    ("action_restrict", ["өңдеуді шектеу", "ограничение обработки", "restrict processing"]),
    ("action_withdraw_consent", ["келісімді кері қайтарып алу", "отзыв согласия", "withdraw consent"]),
    ("action_export", ["деректердің көшірмесі (пакет)", "копия данных (пакет)", "copy of the data (package)"]),
    ("action_rectify", ["түзету", "исправление", "rectify"]),
    ("action_destroy", ["жою", "уничтожение", "destroy"]),
    ("action_answer", ["жазбаша жауап", "письменный ответ", "written answer"]),
    ("action_webhook", ["оператордың жүйесіне хабарлау", "уведомление системы оператора", "tell the operator's system"]),
    ("action_status_pending", ["күтуде", "ожидает", "pending"]),
    ("action_status_waiting", ["жүйенің растауын күтуде", "ожидает подтверждения системы", "waiting for the system's confirmation"]),
    ("action_status_done", ["орындалды", "выполнено", "done"]),
    ("action_status_failed", ["сәтсіз", "не выполнено", "failed"]),
    ("answer_title", ["Жауап", "Ответ", "Answer"]),
    ("answer_preview", ["Жауап хатын оқу", "Прочитать письмо с ответом", "Read the answer letter"]),
    ("download_package", ["Деректер пакетін жүктеп алу", "Скачать пакет данных", "Download the data package"]),
    ("answer_own_words", ["Жауапқа қосылатын өз сөздеріңіз (шағым бойынша жауап үшін)", "Ваш текст, добавляемый к ответу (для ответа на жалобу)", "Your own words added to the answer (a complaint's answer)"]),
    ("step_send_answer", ["Жауапты электрондық поштамен жіберу", "Отправить ответ по электронной почте", "Send the answer by e-mail"]),
    ("answer_reference", ["Қағаз түріндегі жауаптың деректемелері (шығыс нөмірі, күні)", "Реквизиты ответа на бумаге (исходящий номер, дата)", "Reference of the answer on paper (outgoing number, date)"]),
    ("step_record_answer", ["Жауаптың қағаз түрінде табысталғанын тіркеу", "Зафиксировать вручение ответа на бумаге", "Record the answer delivered on paper"]),
    ("history", ["Тарихы", "История", "History"]),
    ("history_file", ["тіркелді", "зарегистрирован", "filed"]),
    ("history_verify_identity", ["жеке басы расталды", "личность подтверждена", "identity confirmed"]),
    ("history_submit", ["шешімге жіберілді", "передан на решение", "submitted"]),
    ("history_approve", ["бекітілді", "утверждён", "approved"]),
    ("history_complete", ["аяқталды", "завершён", "completed"]),
    ("history_reject", ["бас тартылды", "отказано", "refused"]),
    ("history_withdraw", ["кері қайтарылды", "отозван", "withdrawn"]),
    ("history_send_answer", ["жауап жіберілді", "ответ отправлен", "answer sent"]),
    ("done_filed", ["Өтініш тіркелді; оның мерзімі төменде көрсетілген.", "Запрос зарегистрирован; его срок указан ниже.", "The request is filed; its term is shown below."]),
    ("done_code_sent", ["Код өтініш берушінің электрондық поштасына жіберілді.", "Код отправлен на электронную почту заявителя.", "The code was sent to the requester's e-mail."]),
    ("done_verified", ["Өтініш берушінің жеке басы расталды.", "Личность заявителя подтверждена.", "The requester's identity is confirmed."]),
    ("done_submit", ["Өтініш шешімге жіберілді.", "Запрос передан на решение.", "The request is submitted for a decision."]),
    ("done_approve", ["Өтініш бекітілді, әрекеттер орындалды.", "Запрос утверждён, действия выполнены.", "The request is approved and its actions carried out."]),
    ("done_reject", ["Өтініш бойынша бас тартылды.", "По запросу отказано.", "The request is refused."]),
    ("done_withdraw", ["Өтініш кері қайтарылды деп белгіленді.", "Запрос отмечен как отозванный.", "The request is marked as withdrawn."]),
    ("done_complete", ["Өтініш аяқталды.", "Запрос завершён.", "The request is completed."]),
    ("done_run_actions", ["Әрекеттер қайта орындалды.", "Действия выполнены повторно.", "The actions were run again."]),
    ("done_send_answer", ["Жауап жіберілді.", "Ответ отправлен.", "The answer was sent."]),
    ("done_record_answer", ["Жауаптың табысталғаны тіркелді.", "Вручение ответа зафиксировано.", "The answer's delivery is recorded."]),
    ("done_settle_connector", ["Жүйеге хабарлау қолмен реттелді.", "Уведомление системы урегулировано вручную.", "The system's notice was settled by hand."]),
    ("invalid_until", ["Күнді ЖЖЖЖ-АА-КК түрінде көрсетіңіз.", "Укажите дату в формате ГГГГ-ММ-ДД.", "Give the date as YYYY-MM-DD."]),
    ("invalid_reason", ["Тізімдегі себептердің бірін таңдаңыз.", "Выберите одну из перечисленных причин.", "Choose one of the listed reasons."]),
    ("invalid_document", ["Тізімдегі құжаттардың бірін таңдаңыз.", "Выберите один из перечисленных документов.", "Choose one of the listed documents."]),
    ("unknown_step", ["Мұндай қадам жоқ; бетті жаңартыңыз.", "Такого шага нет; обновите страницу.", "There is no such step; reload the page."]),
    ("request_new_title", ["Қағаз түріндегі өтінішті тіркеу", "Зарегистрировать запрос на бумаге", "File a request received on paper"]),
    ("request_new_intro", ["Қағаз түрінде немесе электрондық поштамен келген өтінішті алынған күнімен тіркеңіз: мерзім сол күннен есептеледі.", "Зарегистрируйте запрос, полученный на бумаге или по электронной почте, с датой его получения: срок исчисляется от неё.", "File a request received on paper or by e-mail with the date it was received: the term is counted from it."]),
    ("request_kind", ["Өтініштің түрі", "Вид запроса", "Kind of request"]),
    ("channel", ["Қалай келді", "Как поступил", "Received by"]),
    ("channel_paper", ["қағаз түрінде", "на бумаге", "on paper"]),
    ("channel_email", ["электрондық поштамен", "по электронной почте", "by e-mail"]),
    ("channel_online", ["онлайн", "онлайн", "online"]),
    ("received_at", ["Алынған күні мен уақыты", "Дата и время получения", "Date and time received"]),
    ("received_at_hint", ["Бос қалдырылса — қазір. Болашақтағы күн қабылданбайды.", "Если не заполнено — сейчас. Дата в будущем не принимается.", "Left empty: now. A date in the future is refused."]),
    ("allow_duplicate", ["Субъектінің осы түрдегі ашық өтініші болса да тіркеу", "Зарегистрировать, даже если у субъекта есть открытый запрос того же вида", "File it even if the subject has an open request of this kind"]),
    ("file_request", ["Өтінішті тіркеу", "Зарегистрировать запрос", "File the request"]),
    ("invalid_subject_id", ["Субъектінің идентификаторын (UUID) толық көрсетіңіз.", "Укажите идентификатор субъекта (UUID) полностью.", "Give the subject's id (a UUID) in full."]),
    ("invalid_representative_id", ["Заңды өкілдің идентификаторын (UUID) толық көрсетіңіз немесе өрісті бос қалдырыңыз.", "Укажите идентификатор представителя (UUID) полностью или оставьте поле пустым.", "Give the representative's id (a UUID) in full, or leave the field empty."]),
    ("invalid_kind", ["Тізімдегі түрлердің бірін таңдаңыз.", "Выберите один из перечисленных видов.", "Choose one of the listed kinds."]),
    ("invalid_channel", ["Тізімдегі тәсілдердің бірін таңдаңыз.", "Выберите один из перечисленных способов.", "Choose one of the listed ways."]),
    ("invalid_language", ["Қазақ, орыс немесе ағылшын тілін таңдаңыз.", "Выберите казахский, русский или английский язык.", "Choose Kazakh, Russian or English."]),
    ("invalid_received_at", ["Күн мен уақытты толық көрсетіңіз.", "Укажите дату и время полностью.", "Give the date and the time in full."]),
    ("no_such_subject", ["Мұндай идентификаторы бар субъект жоқ.", "Субъекта с таким идентификатором нет.", "No subject has this id."]),
    ("not_linked_representative", ["Бұл адам субъектінің заңды өкілі ретінде байланыстырылмаған.", "Этот человек не связан с субъектом как законный представитель.", "This person is not linked to the subject as a legal representative."]),
    ("duplicate_request", ["Субъектінің осы түрдегі ашық өтініші бар ({id}). Соны қараңыз немесе «тіркеу» белгісін қойыңыз.", "У субъекта уже есть открытый запрос этого вида ({id}). Работайте с ним или отметьте «зарегистрировать, даже если…».", "The subject already has an open request of this kind ({id}). Handle that one, or tick “file it even if…”."]),
    ("letter_title", ["Жауап хаты", "Письмо с ответом", "Answer letter"]),
    ("back_to_request", ["Өтінішке оралу", "Вернуться к запросу", "Back to the request"]),
    ("letter_sent", ["Хат жіберілген, төменде — жіберілген түрі.", "Письмо отправлено; ниже — в том виде, в каком отправлено.", "The letter was sent; below is what was sent."]),
    ("letter_not_sent", ["Хат әлі жіберілмеген; төменде — қазір жіберілетін түрі.", "Письмо ещё не отправлено; ниже — в том виде, в каком оно будет отправлено сейчас.", "The letter is not sent yet; below is what would be sent now."]),
    ("letter_to", ["Алушы:", "Получатель:", "To:"]),
    ("letter_print", ["Өтініш берушінің электрондық поштасы жоқ: хатты басып шығарып, табыс етіңіз.", "У заявителя нет электронной почты: распечатайте письмо и вручите его.", "The requester has no e-mail on file: print the letter and deliver it."]),
    // Values
    ("role_admin", ["әкімші", "администратор", "administrator"]),
    ("role_dpo", ["дербес деректерді өңдеуді ұйымдастыруға жауапты адам", "лицо, ответственное за организацию обработки персональных данных", "person responsible for organising the processing of personal data"]),
    ("role_staff", ["қызметкер", "сотрудник", "staff"]),
    ("role_auditor", ["аудитор", "аудитор", "auditor"]),
    ("role_integration", ["платформа интеграциясы", "интеграция платформы", "platform integration"]),
    ("status_active", ["белсенді", "действует", "active"]),
    ("status_locked", ["уақытша тоқтатылған", "временно приостановлена", "paused"]),
    ("status_disabled", ["өшірілген", "отключена", "disabled"]),
    ("status_expired", ["мерзімі өткен", "истёк", "expired"]),
    ("status_revoked", ["күші жойылған", "отозван", "revoked"]),
    ("factor_enrolled", ["қосылған", "подключён", "enrolled"]),
    ("factor_to_enrol", ["келесі кіруде қосылады", "подключается при следующем входе", "to be set up at the next sign-in"]),
    ("factor_off", ["талап етілмейді", "не требуется", "not required"]),
];

static TABLES: LazyLock<[BTreeMap<&'static str, &'static str>; 3]> = LazyLock::new(|| {
    let table = |i: usize| TEXTS.iter().map(|(k, v)| (*k, v[i])).collect();
    [table(0), table(1), table(2)]
});

/// Every text in `lang`, by key.
pub(crate) fn texts(lang: Lang) -> &'static BTreeMap<&'static str, &'static str> {
    &TABLES[match lang {
        Lang::Kk => 0,
        Lang::Ru => 1,
        Lang::En => 2,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_in_three_languages_once() {
        let keys: std::collections::HashSet<&str> = TEXTS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys.len(), TEXTS.len(), "a key is listed twice");
        for (k, v) in TEXTS {
            assert!(v.iter().all(|t| !t.trim().is_empty()), "{k}");
            // Kazakh texts are written in Kazakh letters, not Russian look-alikes only.
            assert_ne!(v[0], v[2], "{k}: the Kazakh text is the English one");
        }
    }
}
