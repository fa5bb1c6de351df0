// Sign in with a phone number and a one-time code (the code comes back on screen in dev mode).

import { requestCode, signIn } from "../api.js";
import { field, h, notice, replace, setFieldError } from "../dom.js";
import { t } from "../i18n.js";
import { problemText } from "./common.js";

const PHONE = /^1[3-9]\d{9}$/;

export function renderLogin({ root, navigate, message }) {
  const status = h("div", { class: "status-slot" }, message);
  const phone = h("input", { type: "tel", inputmode: "numeric", autocomplete: "tel-national", maxlength: "11",
    name: "phone", required: true });
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6",
    name: "code", pattern: "\\d{6}", required: true });
  const phoneField = field({ label: t("phone"), name: "phone", control: phone, hint: t("phoneHint"), required: true });
  const codeField = field({ label: t("code"), name: "code", control: code, required: true });
  const sendButton = h("button", { type: "button", class: "secondary" }, t("sendCode"));
  const submit = h("button", { type: "submit", class: "primary" }, t("login"));

  sendButton.addEventListener("click", async () => {
    setFieldError(phoneField, null);
    if (!PHONE.test(phone.value.trim())) {
      setFieldError(phoneField, t("phoneFormat"));
      phone.focus();
      return;
    }
    sendButton.disabled = true;
    sendButton.textContent = t("sendingCode");
    try {
      const issued = await requestCode(phone.value.trim());
      const minutes = Math.round((issued?.expires_in ?? 300) / 60);
      const lines = [h("p", {}, t("codeSent", { minutes }))];
      if (issued?.dev_code) {
        code.value = issued.dev_code;
        lines.push(h("p", {}, t("devCode", { code: issued.dev_code })));
      }
      replace(status, notice("info", ...lines));
      code.focus();
    } catch (error) {
      replace(status, notice("error", problemText(error)));
    } finally {
      sendButton.disabled = false;
      sendButton.textContent = t("sendCode");
    }
  });

  const form = h("form", { class: "card stack", novalidate: true },
    phoneField,
    sendButton,
    codeField,
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(phoneField, null);
    setFieldError(codeField, null);
    if (!PHONE.test(phone.value.trim())) {
      setFieldError(phoneField, t("phoneFormat"));
      phone.focus();
      return;
    }
    if (!/^\d{6}$/.test(code.value.trim())) {
      setFieldError(codeField, t("codeInvalid"));
      code.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t("loggingIn");
    try {
      await signIn(phone.value.trim(), code.value.trim());
      // The shell sends a signed-in visitor on to the page they had opened (a deep link), else to their list.
      navigate("#/");
    } catch (error) {
      replace(status, notice("error", problemText(error)));
    } finally {
      submit.disabled = false;
      submit.textContent = t("login");
    }
  });

  replace(root,
    h("h2", {}, t("loginTitle")),
    h("p", { class: "lead" }, t("loginIntro")),
    status,
    form,
    h("nav", { class: "links", "aria-label": t("moreTitle") },
      h("a", { href: "#/stations" }, t("stationsTitle")),
      h("a", { href: "#/public" }, t("publicTitle"))));
}
