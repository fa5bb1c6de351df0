// Files the API serves only with the bearer token (evidence, case attachments): fetched once, shown from blob: URLs.

import { fileUrl } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

// One fetch per file for the life of the page: live updates redraw the lists, and must not download them again.
const loaded = new Map();

function urlOf(path, signal) {
  if (!loaded.has(path)) {
    const pending = fileUrl(path, { signal });
    pending.catch(() => loaded.delete(path));
    loaded.set(path, pending);
  }
  return loaded.get(path);
}

/** `items` of {name, type, path, meta?}: photos as thumbnails that open full size, other files as links. */
export function fileList(items, signal) {
  return h("ul", { class: "files" }, items.map((item) => {
    const isImage = String(item.type).startsWith("image/");
    const link = h("a", { class: "file", target: "_blank", rel: "noopener", "aria-label": t("evidenceOpen", { name: item.name }) },
      isImage ? h("img", { alt: item.name, width: "96", height: "96" }) : h("span", { class: "file-name" }, item.name));
    urlOf(item.path, signal).then((url) => {
      link.href = url;
      const image = link.querySelector("img");
      if (image) image.src = url;
    }).catch(() => {
      // Unavailable for now: the name still says what was attached.
    });
    return h("li", {}, link, item.meta ? h("span", { class: "meta" }, item.meta) : null);
  }));
}
