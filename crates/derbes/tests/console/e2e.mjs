// The console in Debian's Chromium, driven by Playwright, every page checked by axe-core.
// Run by crates/derbes/tests/console_browser.rs against a real `derbes serve`:
//   node e2e.mjs  (DERBES_BASE, DERBES_ACCOUNTS, DERBES_SHOTS, DERBES_CHROMIUM in the environment)
// DERBES_ACCOUNTS is JSON: { "admin-desktop": "<one-time password>", "admin-phone": "…",
// "staff": "…", "dpo": "…", "auditor": "…" }; DERBES_TOKEN is an admin API token, to seed requests the pages show. Prints
// what it checked; exits non-zero on the first failure.
import { chromium, devices } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import * as OTPAuth from "otpauth";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const base = process.env.DERBES_BASE;
const accounts = JSON.parse(process.env.DERBES_ACCOUNTS);
const shots = process.env.DERBES_SHOTS;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.DERBES_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
});

/** A call to derbes's API as the seeding administrator. */
async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${process.env.DERBES_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await r.json();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** A student with requests on Today: one overdue, one awaiting approval; and a student who
 * comes of age next month (on its 15th, whatever the time zone), whose mother's consent she is
 * to confirm. Returns the first student's id. */
async function seedRequests() {
  const born = new Date();
  born.setUTCDate(15);
  born.setUTCFullYear(born.getUTCFullYear() - 18, born.getUTCMonth() + 1);
  const grown = await api("POST", "/api/v1/subjects", {
    category: "student",
    fields: { surname: "Жұмабаева", given_name: "Айым", birth_date: born.toISOString().slice(0, 10) },
  });
  const mother = await api("POST", "/api/v1/subjects", {
    category: "legal_representative",
    fields: { surname: "Жұмабаева", given_name: "Гүлнар" },
  });
  await api("POST", `/api/v1/subjects/${grown.id}/representatives`, {
    representative_id: mother.id, relation: "parent",
    documents: [{ kind: "birth_certificate", sha256: "b1".repeat(32) }],
  });
  await api("POST", `/api/v1/subjects/${grown.id}/consents`, {
    purpose: "extracurricular", action: "give", representative_id: mother.id,
    method: { kind: "paper", evidence_sha256: "5e".repeat(32) },
  });
  const student = await api("POST", "/api/v1/subjects", {
    category: "student",
    fields: { surname: "Сәрсенбаева", given_name: "Дана", email: "dana@mail.kz" },
  });
  const received = new Date(Date.now() - 60 * 24 * 3600 * 1000).toISOString();
  const paper = { subject_id: student.id, channel: "paper", language: "ru" };
  await api("POST", "/api/v1/requests", { ...paper, kind: "information", received_at: received });
  const complaint = await api("POST", "/api/v1/requests", { ...paper, kind: "complaint" });
  await api("POST", `/api/v1/requests/${complaint.id}/verification/document`, { document: "id_card", note: "Жеке куәлік тексерілді" });
  await api("POST", `/api/v1/requests/${complaint.id}/steps`, { step: "submit" });
  return student.id;
}

/** Submits the form around `selector` and waits for the page it leads to. */
async function press(page, selector) {
  await Promise.all([page.waitForLoadState("load"), page.click(selector)]);
}

/** A paper request of `kind` filed by the person on `page`, verified by document and
 * submitted: its address. */
async function fileAndSubmit(page, student, kind, viewport, check) {
  await page.goto(`${base}/console/requests/new?subject=${student}`);
  if (check) await inEveryLanguage(page, "request-new", viewport);
  await page.selectOption("#kind", kind);
  await page.selectOption("#language", "ru");
  await press(page, "form.card button[type=submit]");
  assert.match(page.url(), /\/console\/requests\/[0-9a-f-]{36}\?done=filed$/, await page.textContent("main"));
  const address = page.url().split("?")[0];
  if (check) await inEveryLanguage(page, "request-received", viewport);
  await page.selectOption("#document", "id_card");
  await press(page, "form[action$='/verification/document'] button");
  assert.match(page.url(), /done=verified$/);
  await press(page, "input[name=step][value=submit] ~ button");
  assert.match(page.url(), /done=submit$/);
  return address;
}

/** Staff add a student through the console (a wrong IIN refused beside its field), find her
 * by the IIN and open her file for their purpose. Returns her id. */
async function subjectsThroughTheConsole(viewport) {
  const context = await newContext({ ...viewports[viewport], locale: "kk-KZ" });
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  await page.fill("#login", "staff");
  await page.fill("#password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console$/);
  await page.click('nav.sections a[href="/console/subjects"]');
  await page.waitForURL(/\/console\/subjects$/);
  await inEveryLanguage(page, "subjects", viewport);
  await page.goto(`${base}/console/subjects/new?category=student`);
  await inEveryLanguage(page, "subject-new", viewport);
  await page.fill("#f-surname", "Ахметова");
  await page.fill("#f-given_name", "Айгүл");
  await page.fill("#f-iin", "070101500015");
  await page.fill("#f-email", "aigul@mail.kz");
  await press(page, "form.card button[type=submit]");
  assert.equal(await page.getAttribute("#f-iin", "aria-invalid"), "true");
  assert.match(await page.textContent("#f-iin-error"), /Бақылау цифры/);
  assert.equal(await page.inputValue("#f-surname"), "Ахметова", "the other values kept");
  await accessible(page, "subject-new-refused", viewport);
  await page.fill("#f-iin", "070101500014");
  await press(page, "form.card button[type=submit]");
  assert.match(page.url(), /\/console\/subjects\/[0-9a-f-]{36}\?created=1$/, await page.textContent("main"));
  const id = page.url().split("/").pop().split("?")[0];
  await page.goto(`${base}/console/subjects`);
  await page.fill("#value", "070101500014");
  await page.selectOption("#purpose", "education");
  await press(page, "form[action='/console/subjects/find'] button");
  await press(page, `a[href="/console/subjects/${id}?purpose=education"]`);
  assert.match(await page.textContent("main"), /Ахметова/);
  await inEveryLanguage(page, "subject-file", viewport);
  await context.close();
  return id;
}

/** The DPO's first sign-in in the browser: own password, second factor enrolled. */
async function dpoSignsIn(context) {
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  await page.fill("#login", "dpo");
  await page.fill("#password", accounts.dpo);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/new-password$/);
  await page.fill("#password", NEW_PASSWORD);
  await page.fill("#repeated", NEW_PASSWORD);
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console\/enrol$/);
  const secret = (await page.textContent("code.secret")).trim();
  await page.fill("#code", codeFor(secret));
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console$/);
  return page;
}

/** Staff file an access request and a destruction request received on paper, check the
 * document and submit them, and are refused approval with the service's reason; the DPO,
 * signed in with her second factor, approves each from Today, reads the answer letter in the
 * requester's language, sends it and completes the request: all through the console. Then
 * she records the own consent of a student who came of age, after printing her mother's. */
async function requestsThroughTheConsole(student, viewport) {
  const staffContext = await newContext({ ...viewports[viewport], locale: "kk-KZ" });
  const staff = await staffContext.newPage();
  await staff.goto(`${base}/console/sign-in`);
  await staff.fill("#login", "staff");
  await staff.fill("#password", NEW_PASSWORD);
  await staff.click("button[type=submit]");
  await staff.waitForURL(/\/console$/);
  const check = viewport === "desktop";
  const access = await fileAndSubmit(staff, student, "access_export", viewport, check);
  await press(staff, "input[name=step][value=approve] ~ button");
  assert.match(await staff.textContent("[role=alert]"), /a `staff` account may not do this/);
  await accessible(staff, "request-refused", viewport);
  const destruction = await fileAndSubmit(staff, student, "destruction", viewport, false);

  const dpoContext = await newContext({ ...viewports[viewport], locale: "ru-RU" });
  const dpo = await dpoSignsIn(dpoContext);
  await inEveryLanguage(dpo, "today-with-requests", viewport);
  assert.equal(await dpo.locator("section.reconfirmations tbody tr").count(), 1, "a consent to confirm at majority");
  for (const [address, name] of [[access, "access"], [destruction, "destruction"]]) {
    const path = new URL(address).pathname;
    await dpo.goto(`${base}/console`);
    await press(dpo, `section.awaiting_approval a[href="${path}"]`);
    if (check && name === "access") await inEveryLanguage(dpo, "request-awaiting-approval", viewport);
    await press(dpo, "input[name=step][value=approve] ~ button");
    assert.match(dpo.url(), /done=approve$/, await dpo.textContent("main"));
    await dpo.click(`a[href="${path}/answer"]`);
    assert.equal(await dpo.getAttribute("article.letter", "lang"), "ru", "the letter in the requester's language");
    if (check && name === "access") await inEveryLanguage(dpo, "answer-letter", viewport);
    await dpo.goto(address);
    await press(dpo, "input[name=step][value=send_answer] ~ button");
    assert.match(dpo.url(), /done=send_answer$/, await dpo.textContent("main"));
    await press(dpo, "input[name=step][value=complete] ~ button");
    assert.match(dpo.url(), /done=complete$/, await dpo.textContent("main"));
    if (check && name === "access") await inEveryLanguage(dpo, "request-completed", viewport);
  }
  await dpo.goto(`${base}/console/requests?status=completed`);
  assert.equal(await dpo.locator("#queue tbody tr").count(), 2, "both completed");
  if (check) await inEveryLanguage(dpo, "requests", viewport);
  await dpo.click('nav.sections a[href="/console/audit"]');
  await dpo.waitForURL(/\/console\/audit$/);
  assert.match(await dpo.textContent("main"), /request\.approve/);
  if (check) await inEveryLanguage(dpo, "audit", viewport);
  await dpo.click('nav.sections a[href="/console/retention"]');
  await dpo.waitForURL(/\/console\/retention$/);
  if (check) await inEveryLanguage(dpo, "retention", viewport);
  await dpo.goto(`${base}/console/retention/depersonalized/analytics_data?lang=ru`);
  assert.match(await dpo.textContent("main"), /обезличенные записи ещё не хранятся/);
  if (check) await inEveryLanguage(dpo, "release", viewport);
  await dpo.click('nav.sections a[href="/console/policy"]');
  await dpo.waitForURL(/\/console\/policy$/);
  if (check) await inEveryLanguage(dpo, "policy", viewport);
  await press(dpo, "a[href$='/consent-forms'] >> nth=0");
  assert.match(dpo.url(), /\/console\/policy\/[^/]+\/consent-forms$/);
  if (check) await inEveryLanguage(dpo, "policy-document", viewport);

  // From Today, the student who comes of age next month: her mother's consent's receipt
  // printed; her own consent is refused, with the law's reason beside the form, until then.
  await dpo.goto(`${base}/console`);
  await press(dpo, "section.reconfirmations tbody a");
  if (check) await inEveryLanguage(dpo, "subject-consents", viewport);
  const grown = dpo.url();
  await press(dpo, "a[href$='/receipt']");
  if (check) await inEveryLanguage(dpo, "receipt", viewport);
  await dpo.goto(grown);
  await dpo.click("details:has(#consent-purpose) > summary");
  await dpo.selectOption("#consent-method", "other");
  await dpo.fill("#consent_description", "Жазбаша өтініш, қабылдау бөлмесінде тіркелген");
  await press(dpo, "form[action$='/consents'] button[type=submit]");
  assert.match(await dpo.textContent("form[action$='/consents']"), /кәмелетке толу жасынан \(18\) кіші/);
  await dpo.goto(`${base}/console`);
  assert.equal(await dpo.locator("section.reconfirmations tbody tr").count(), 1, "still hers to confirm");
  await dpo.goto(`${base}/console/reconfirmations`);
  assert.equal(await dpo.locator("main tbody tr").count(), 1, "the whole list");
  if (check) await inEveryLanguage(dpo, "reconfirmations", viewport);
  await staffContext.close();
  await dpoContext.close();
}

const viewports = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { ...devices["Pixel 7"], defaultBrowserType: undefined },
};

const NEW_PASSWORD = "Жаз келді, 2026!";
let checked = 0;
/** What the browser refused to load or run (the CSP, Subresource Integrity): none allowed. */
const refusals = [];

/** A new browser context whose refusals are recorded. */
async function newContext(options) {
  const context = await browser.newContext(options);
  context.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|integrity/i.test(msg.text())) {
      refusals.push(msg.text());
    }
  });
  return context;
}

/** axe-core on the page as it is: no serious or critical violation of WCAG 2.1 A/AA. */
async function accessible(page, name, viewport) {
  const lang = await page.getAttribute("html", "lang");
  const result = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`),
    [],
    `${name} in ${lang} on a ${viewport}`,
  );
  await page.screenshot({ path: `${shots}/${viewport}-${lang}-${name}.png`, fullPage: true });
  checked += 1;
}

/** Every language of the page the browser is on, through its language links; Kazakh last. */
async function inEveryLanguage(page, name, viewport) {
  for (const lang of ["ru", "en", "kk"]) {
    await page.click(`nav.langs a[hreflang="${lang}"]`);
    assert.equal(await page.getAttribute("html", "lang"), lang);
    await accessible(page, name, viewport);
  }
}

function codeFor(secret, offsetSteps = 0) {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/** An administrator's first sign-in, every page of it checked, on one kind of screen. */
async function firstSignIn(viewport) {
  const context = await newContext({ ...viewports[viewport], locale: "kk-KZ" });
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  await inEveryLanguage(page, "sign-in", viewport);

  // A wrong password: the same answer as for anyone.
  await page.fill("#login", `admin-${viewport}`);
  await page.fill("#password", "not the password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("[role=alert]"), /Логин немесе құпиясөз қате/);
  assert.equal(await page.inputValue("#login"), `admin-${viewport}`, "the login is kept");
  await accessible(page, "sign-in-refused", viewport);

  await page.fill("#password", accounts[`admin-${viewport}`]);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/new-password$/);
  await inEveryLanguage(page, "new-password", viewport);
  // Long enough for the browser's own check, refused by derbes's rules.
  await page.fill("#password", "aaaaaaaaaaaaaa");
  await page.fill("#repeated", "aaaaaaaaaaaaaa");
  await page.click("form.card button[type=submit]");
  assert.equal(await page.getAttribute("#password", "aria-invalid"), "true");
  assert.match(await page.textContent("#password-error"), /бір таңбаның қайталануынан/);
  await accessible(page, "new-password-refused", viewport);
  await page.fill("#password", NEW_PASSWORD);
  await page.fill("#repeated", NEW_PASSWORD);
  await page.click("form.card button[type=submit]");

  await page.waitForURL(/\/console\/enrol$/);
  await inEveryLanguage(page, "enrol", viewport);
  const secret = (await page.textContent("code.secret")).trim();
  await page.fill("#code", codeFor(secret));
  enrolledAt[viewport] = Date.now();
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console$/);
  await inEveryLanguage(page, "today", viewport);
  assert.equal(await page.locator("section.overdue table.requests tbody tr").count(), 1, "the overdue request");
  await page.click('nav.sections a[href="/console/account"]');
  await page.waitForURL(/\/console\/account$/);
  await inEveryLanguage(page, "account", viewport);

  await page.click('nav.sections a[href="/console/access"]');
  await page.waitForURL(/\/console\/access$/);
  assert.equal(await page.locator("table").count(), 2, `an administrator sees accounts and tokens: ${await page.textContent("main")}`);
  await inEveryLanguage(page, "access", viewport);
  assert.equal(await page.evaluate(() => typeof window.htmx), "object", "htmx runs under the CSP, its integrity checked");

  // An account made through the form: a refused login beside its field, the rest kept; then
  // its one-time password, shown once.
  const form = "form[action='/console/access/accounts']";
  await page.click(`details:has(${form}) summary`);
  await page.fill("#login", "Bad Login");
  await page.fill("#display_name", "Болат Ахметов");
  await page.selectOption("#account-role", "staff");
  await page.check(`${form} input[name=purposes] >> nth=0`);
  await page.click(`${form} button[type=submit]`);
  assert.equal(await page.getAttribute("#login", "aria-invalid"), "true");
  assert.equal(await page.inputValue("#display_name"), "Болат Ахметов", "the form is kept");
  await accessible(page, "access-refused-field", viewport);
  await page.fill("#login", `bolat-${viewport}`);
  await page.click(`${form} button[type=submit]`);
  assert.match(await page.textContent(".issued"), new RegExp(`bolat-${viewport}`));
  await accessible(page, "access-password-issued", viewport);
  await context.close();
  return secret;
}

/** A staff member: no second factor, the access page refused with the service's reason, and a
 * cookie taken before sign-out worth nothing after it; a form without its token refused. */
async function staff(student) {
  const context = await newContext({ ...viewports.desktop, locale: "ru-RU" });
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  assert.equal(await page.getAttribute("html", "lang"), "ru", "the browser's language before sign-in");
  await page.fill("#login", "staff");
  await page.fill("#password", accounts.staff);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/new-password$/);
  assert.equal(await page.getAttribute("html", "lang"), "kk", "then the account's own language");
  await page.fill("#password", NEW_PASSWORD);
  await page.fill("#repeated", NEW_PASSWORD);
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console$/);

  const response = await page.goto(`${base}/console/access`);
  assert.equal(response.status(), 403);
  assert.match(await page.textContent("[role=alert]"), /a `staff` account may not do this/);
  await inEveryLanguage(page, "access-refused", "desktop");

  // A purpose staff do not act for: nothing read, the decision's reason in the page's language.
  await page.goto(`${base}/console/subjects/${student}?purpose=extracurricular&lang=kk`);
  assert.match(await page.textContent("[role=alert]"), /Сізге «.+» мақсаты үшін әрекет етуге рұқсат берілмеген\./);
  assert.doesNotMatch(await page.textContent("main"), /Сәрсенбаева/);

  // A form posted without its CSRF token does nothing.
  await page.goto(`${base}/console`);
  await page.evaluate(() => document.querySelector("form.sign-out input[name=csrf]").remove());
  await page.click("form.sign-out button");
  assert.equal((await page.goto(`${base}/console`)).status(), 200, "still signed in");

  const stolen = await context.cookies();
  await page.click("form.sign-out button");
  await page.waitForURL(/\/console\/sign-in$/);
  const thief = await browser.newContext(viewports.desktop);
  await thief.addCookies(stolen);
  const other = await thief.newPage();
  await other.goto(`${base}/console`);
  assert.match(other.url(), /\/console\/sign-in\?ended=1$/, "a stolen cookie is refused after sign-out");
  await thief.close();
  await context.close();
}

/** When each administrator's second factor was enrolled: a code counts once. */
const enrolledAt = {};

/** The work pages on a phone, signed in again with the second factor, once the flows have
 * filled them: each checked in every language. */
async function phoneTour(secret, student) {
  const context = await newContext({ ...viewports.phone, locale: "kk-KZ" });
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  await page.fill("#login", "admin-phone");
  await page.fill("#password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/second-factor$/);
  // The enrolment's code counts once: wait for the next one if it is still the same.
  const step = (t) => Math.floor(t / 30_000);
  if (step(Date.now()) === step(enrolledAt.phone)) {
    await new Promise((r) => setTimeout(r, 30_500 - (Date.now() % 30_000)));
  }
  await page.fill("#code", codeFor(secret));
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console$/);
  for (const [name, path] of [
    ["today-with-requests", "/console"],
    ["subjects", "/console/subjects"],
    ["subject", `/console/subjects/${student}`],
    ["requests", "/console/requests?status=completed"],
    ["policy", "/console/policy"],
    ["audit", "/console/audit"],
    ["retention", "/console/retention"],
  ]) {
    await page.goto(`${base}${path}`);
    await inEveryLanguage(page, name, "phone");
  }
  await page.goto(`${base}/console/requests?status=completed`);
  await press(page, "#queue tbody a");
  await inEveryLanguage(page, "request-completed", "phone");
  await page.click("a[href$='/answer']");
  await inEveryLanguage(page, "answer-letter", "phone");
  await context.close();
}

/** An auditor looks at Today, a request, a subject's history and the audit trail, sees no
 * value, and is refused a change with the service's reason. */
async function auditor(student) {
  const context = await newContext({ ...viewports.desktop, locale: "en-GB" });
  const page = await context.newPage();
  await page.goto(`${base}/console/sign-in`);
  await page.fill("#login", "auditor");
  await page.fill("#password", accounts.auditor);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/new-password$/);
  await page.fill("#password", NEW_PASSWORD);
  await page.fill("#repeated", NEW_PASSWORD);
  await page.click("form.card button[type=submit]");
  await page.waitForURL(/\/console$/);
  await accessible(page, "auditor-today", "desktop");
  const request = await page.getAttribute("section.awaiting_approval tbody a", "href");
  await page.goto(`${base}${request}`);
  await accessible(page, "auditor-request", "desktop");
  const csrf = await page.getAttribute("form.sign-out input[name=csrf]", "value");
  const refused = await page.request.post(`${base}${request}/steps`, {
    form: { csrf, step: "approve" },
    headers: { origin: base },
  });
  assert.equal(refused.status(), 403, "an auditor cannot approve");
  assert.match(await refused.text(), /an `auditor` account may not do this/);
  await page.goto(`${base}/console/subjects/${student}`);
  await accessible(page, "auditor-subject", "desktop");
  assert.match(await page.textContent("main"), /subject\.create/, "the subject's history");
  assert.doesNotMatch(await page.textContent("main"), /Сәрсенбаева|dana@mail\.kz/, "never a value");
  assert.equal(await page.locator("form[action$='/consents'], form[action$='/flags']").count(), 0, "nothing to change");
  await page.goto(`${base}/console/audit`);
  await accessible(page, "auditor-audit", "desktop");
  await context.close();
}

try {
  const seeded = await seedRequests();
  const secrets = {};
  for (const viewport of ["desktop", "phone"]) {
    secrets[viewport] = await firstSignIn(viewport);
    console.log(`console in the browser: first sign-in on a ${viewport} ... ok`);
  }
  await staff(seeded);
  console.log("console in the browser: staff, refusals, CSRF and a stolen cookie ... ok");
  await auditor(seeded);
  console.log("console in the browser: an auditor looks and cannot change ... ok");
  const added = await subjectsThroughTheConsole("desktop");
  console.log("console in the browser: a subject added, found and opened for a purpose ... ok");
  await requestsThroughTheConsole(added, "desktop");
  console.log("console in the browser: an access and a destruction request from paper to the sent answer, and a consent to confirm at majority ... ok");
  await phoneTour(secrets.phone, seeded);
  console.log("console in the browser: the work pages on a phone ... ok");
  assert.deepEqual(refusals, [], "nothing refused by the CSP or by Subresource Integrity");
  console.log(`console in the browser: ${checked} page views checked by axe-core`);
} finally {
  await browser.close();
}
