// Building the DOM without HTML strings: text always goes through textContent, so API data can never become markup.

/** An element: `h("button", {class: "primary", onclick: fn}, "text", child)`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let counter = 0;

/** A unique element id with a readable prefix. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * A labelled form field with its hint and error slot wired for screen readers.
 * `name` is the API field path (e.g. "respondent.name"); server errors for that path land in the error slot.
 */
export function field({ label, name, control, element = control, hint, required = false, optionalText }) {
  const id = control.id || uid("f");
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  if (required) control.setAttribute("aria-required", "true");
  const wrapper = h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null,
      !required && optionalText ? h("span", { class: "opt" }, `（${optionalText}）`) : null),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    element,
    h("p", { class: "field-error", id: errorId, role: "alert", hidden: true }));
  return wrapper;
}

/** A group of controls under one legend (a fieldset), with the hint and error slot of `field`. */
export function fieldGroup({ legend, name, content, hint, required = false }) {
  const id = uid("g");
  return h("fieldset", { class: "field group", dataset: { field: name }, "aria-describedby": hint ? `${id}-hint` : null },
    h("legend", {}, legend, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    content,
    h("p", { class: "field-error", role: "alert", hidden: true }));
}

/** Show `message` as the error of a field wrapper (or clear it with null). */
export function setFieldError(wrapper, message) {
  const slot = wrapper.querySelector(":scope > .field-error");
  const control = wrapper.querySelector("input, select, textarea");
  slot.textContent = message ?? "";
  slot.hidden = !message;
  wrapper.classList.toggle("invalid", Boolean(message));
  if (control) {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
}

/** A status message box; `kind` is info, success or error. */
export function notice(kind, ...content) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...content);
}

/** A button that shows `busyText` and is disabled while `action` runs. */
export function busyButton(attributes, text, busyText, action) {
  const button = h("button", { type: "button", ...attributes }, text);
  button.addEventListener("click", async (event) => {
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = busyText;
    try {
      await action(event);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = text;
    }
  });
  return button;
}
