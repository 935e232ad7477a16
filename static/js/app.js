/* ticketflow's own page behaviour. No business rule lives here: which fields show and
 * which are required is decided by the server (the engine) and arrives as HTML; this file
 * only moves that HTML into the page without disturbing what the user is typing, uploads
 * files with a progress bar, completes @mentions and turns a dropped kanban card into the
 * card's own "Move to" form. Every page works without it. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function fire(element, name) {
    element.dispatchEvent(new Event(name, { bubbles: true }));
  }

  /* --- live forms: merge the server's re-rendered fields ------------------------------ */

  // Replacing the field the user is typing in would drop keystrokes typed while the
  // request was out, so that one field keeps its input and takes only the server's label,
  // visibility, messages and computed cells. Everything else is replaced as sent.
  function mergeFields(current, fresh) {
    var active = document.activeElement;
    fresh.querySelectorAll("fieldset.field[id]").forEach(function (incoming) {
      var existing = document.getElementById(incoming.id);
      if (!existing) { return; }
      var busy = existing.contains(active) || existing.querySelector("[data-uploading]");
      if (!busy) {
        existing.replaceWith(incoming);
        if (window.htmx) { window.htmx.process(incoming); }
        return;
      }
      existing.hidden = incoming.hidden;
      existing.disabled = incoming.disabled;
      existing.className = incoming.className;
      ["label", "ul.problems", "p.help"].forEach(function (selector) {
        var mine = existing.querySelector(":scope > " + selector);
        var theirs = incoming.querySelector(":scope > " + selector);
        if (mine && theirs) { mine.replaceWith(theirs); }
      });
      // Computed cells (a row's total) are the server's alone: nobody types in them.
      var mineOut = existing.querySelectorAll("output");
      var theirOut = incoming.querySelectorAll("output");
      if (mineOut.length === theirOut.length) {
        mineOut.forEach(function (output, index) {
          output.textContent = theirOut[index].textContent;
        });
      }
    });
    var general = current.querySelector(":scope > ul.general");
    if (general) { general.remove(); }
    var freshGeneral = fresh.querySelector(":scope > ul.general");
    if (freshGeneral) { current.appendChild(freshGeneral); }
  }

  // A live form asks again whenever the user types, and an answer to an older question
  // must not land: it would put back values typed over since. htmx's `replace` sync drops
  // it by aborting the request, which htmx reports as a console error whenever someone
  // types faster than the server answers. So the form queues its next question (`queue
  // last`: one in flight, the newest waiting) and the answer overtaken by it is dropped
  // here, unread.
  function liveFormOf(element) {
    return element && element.closest ? element.closest("[data-live-form]") : null;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = liveFormOf(event.target);
    if (form && form.liveRequest) { form.liveRequest.overtaken = true; }
  });

  document.addEventListener("htmx:beforeSend", function (event) {
    var form = liveFormOf(event.target);
    if (form) { form.liveRequest = event.detail.xhr; }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = liveFormOf(event.target);
    if (form && form.liveRequest === event.detail.xhr) { form.liveRequest = null; }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.matches || !target.matches("[data-live-form]")) { return; }
    if (event.detail.xhr.overtaken || event.detail.xhr.status !== 200) {
      event.detail.shouldSwap = false;
      return;
    }
    var holder = document.createElement("template");
    holder.innerHTML = event.detail.serverResponse;
    var fresh = holder.content.querySelector("[data-live-form]");
    if (!fresh) { return; }
    var grewRows = fresh.querySelectorAll("tr").length !== target.querySelectorAll("tr").length;
    if (grewRows) { return; }  // a table row was added: take the whole new form
    event.detail.shouldSwap = false;
    mergeFields(target, fresh);
  });

  /* --- uploads: checked early, sent at once, with progress ----------------------------- */

  function sizeText(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1).replace(/\.0$/, "") + " MB"; }
    if (bytes >= 1024) { return Math.floor(bytes / 1024) + " KB"; }
    return bytes + " B";
  }

  function showError(box, message) {
    var slot = box.querySelector(".upload-error");
    if (!slot) { return; }
    slot.textContent = message;
    slot.hidden = !message;
  }

  function keptItem(box, file) {
    var item = document.createElement("li");
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = box.getAttribute("data-field");
    hidden.value = file.id;
    var name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;  // text, never HTML
    var size = document.createElement("span");
    size.className = "muted";
    size.textContent = " (" + sizeText(file.size) + ") ";
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.setAttribute("data-remove-file", "");
    remove.textContent = document.documentElement.lang === "zh-CN" ? "移除" : "Remove";
    item.append(hidden, name, size, remove);
    return item;
  }

  function uploadOne(box, input, file, url, done) {
    var progress = box.querySelector("progress");
    var request = new XMLHttpRequest();
    var data = new FormData();
    data.append("file", file, file.name);
    request.open("POST", url);
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (event) {
      if (progress && event.lengthComputable) {
        progress.value = Math.round((event.loaded / event.total) * 100);
      }
    });
    request.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = {}; }
      if (request.status === 201 && body.file) {
        box.querySelector(".kept").appendChild(keptItem(box, body.file));
        done(null);
      } else {
        var message = body.error && body.error.message ? body.error.message : request.statusText;
        done(file.name + ": " + message);
      }
    });
    request.addEventListener("error", function () { done(file.name + ": network error"); });
    if (progress) { progress.hidden = false; progress.value = 0; }
    request.send(data);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches('input[type="file"]')) { return; }
    var box = input.closest("[data-upload]");
    var form = input.closest("form");
    var limit = parseInt((box || input).getAttribute("data-max-size") || "0", 10);
    var files = Array.prototype.slice.call(input.files || []);
    var tooBig = files.filter(function (file) { return limit && file.size > limit; });
    if (tooBig.length) {
      // Refused before a byte is sent; the rest of the form is untouched.
      var text = tooBig.map(function (f) { return f.name + " (" + sizeText(f.size) + ")"; })
        .join(", ") + " > " + sizeText(limit);
      if (box) { showError(box, text); } else { window.alert(text); }
      input.value = "";
      event.stopPropagation();
      return;
    }
    var url = form && form.getAttribute("data-upload-url");
    if (!box || !url || !files.length) { return; }
    event.stopPropagation();  // not a value change yet: the live form waits for the upload
    input.setAttribute("data-uploading", "");
    showError(box, "");
    var errors = [];
    var remaining = files.length;
    files.forEach(function (file) {
      uploadOne(box, input, file, url, function (error) {
        if (error) { errors.push(error); }
        remaining -= 1;
        if (remaining === 0) {
          input.value = "";
          input.removeAttribute("data-uploading");
          box.querySelector("progress").hidden = true;
          showError(box, errors.join(" · "));
          fire(box, "change");  // now the server sees the files: the form is decided again
        }
      });
    });
  }, true);

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-file]");
    if (!button) { return; }
    var box = button.closest("[data-upload]");
    button.closest("li").remove();
    if (box) { fire(box, "change"); }
  });

  // The designer: a problem's "line 12, column 5" puts the cursor there in the text.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-goto-line]");
    var area = document.querySelector("[data-definition]");
    if (!link || !area) { return; }
    var line = parseInt(link.getAttribute("data-goto-line"), 10) || 1;
    var column = parseInt(link.getAttribute("data-goto-column"), 10) || 1;
    var lines = area.value.split("\n");
    var offset = 0;
    for (var i = 0; i < Math.min(line - 1, lines.length); i++) { offset += lines[i].length + 1; }
    offset += Math.min(column - 1, (lines[line - 1] || "").length);
    area.focus();
    area.setSelectionRange(offset, offset);
    var height = parseFloat(window.getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (line - 3) * height);
  });

  // The designer's preview form is never sent: it only answers as it is typed into.
  document.addEventListener("submit", function (event) {
    if (event.target.matches("[data-preview]")) { event.preventDefault(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var uploading = form.querySelector("[data-uploading]");
    if (uploading) { event.preventDefault(); return; }  // wait for the upload to finish
    form.querySelectorAll('input[type="file"]').forEach(function (input) {
      if (input.files && input.files.length) {
        var bar = (input.closest("[data-upload]") || form).querySelector("progress");
        if (bar) { bar.hidden = false; bar.removeAttribute("value"); }  // indeterminate
      }
    });
    form.querySelectorAll('button[type="submit"]').forEach(function (button) {
      button.setAttribute("aria-busy", "true");
    });
  });

  /* --- @mention completion ------------------------------------------------------------ */

  function mentionQuery(area) {
    var before = area.value.slice(0, area.selectionStart);
    var match = /(^|[^\w@])@([\w.-]{0,30})$/.exec(before);
    return match ? match[2] : null;
  }

  function closeList(list) { list.hidden = true; list.textContent = ""; }

  function choose(area, list, username) {
    var caret = area.selectionStart;
    var before = area.value.slice(0, caret).replace(/@([\w.-]{0,30})$/, "@" + username + " ");
    area.value = before + area.value.slice(caret);
    area.selectionStart = area.selectionEnd = before.length;
    closeList(list);
    area.focus();
  }

  var mentionTimer = null;
  document.addEventListener("input", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea[data-mentions]")) { return; }
    var url = area.getAttribute("data-mentions");
    var list = area.parentElement.querySelector(".mention-list");
    var query = mentionQuery(area);
    if (!url || !list || query === null) { if (list) { closeList(list); } return; }
    window.clearTimeout(mentionTimer);
    mentionTimer = window.setTimeout(function () {
      var separator = url.indexOf("?") < 0 ? "?" : "&";  // the page may name its ticket
      fetch(url + separator + "q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          list.textContent = "";
          (body.items || []).forEach(function (person, index) {
            var option = document.createElement("li");
            option.setAttribute("role", "option");
            option.setAttribute("data-username", person.username);
            option.id = "mention-" + index;
            option.textContent = person.name + " (@" + person.username + ")";
            if (index === 0) { option.setAttribute("aria-selected", "true"); }
            option.addEventListener("mousedown", function (e) {
              e.preventDefault();
              choose(area, list, person.username);
            });
            list.appendChild(option);
          });
          list.hidden = !list.children.length;
        })
        .catch(function () { closeList(list); });
    }, 150);
  });

  document.addEventListener("keydown", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea[data-mentions]")) { return; }
    var list = area.parentElement.querySelector(".mention-list");
    if (!list || list.hidden) { return; }
    var options = Array.prototype.slice.call(list.children);
    var current = options.findIndex(function (o) { return o.getAttribute("aria-selected"); });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = (current + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      options.forEach(function (o) { o.removeAttribute("aria-selected"); });
      options[next].setAttribute("aria-selected", "true");
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(area, list, options[Math.max(current, 0)].getAttribute("data-username"));
    } else if (event.key === "Escape") {
      closeList(list);
    }
  });

  /* --- kanban: a dropped card submits its own "Move to" form -------------------------- */

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board-card");
    if (!card) { return; }
    event.dataTransfer.setData("text/plain", card.getAttribute("data-number"));
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".board-card");
    if (card) { card.classList.remove("dragging"); }
    document.querySelectorAll(".column.drop-here").forEach(function (c) {
      c.classList.remove("drop-here");
    });
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (!column) { return; }
    event.preventDefault();
    column.classList.add("drop-here");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-here"); }
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (!column) { return; }
    event.preventDefault();
    var number = event.dataTransfer.getData("text/plain");
    var card = document.querySelector('.board-card[data-number="' + CSS.escape(number) + '"]');
    if (!card || card.closest(".column") === column) { return; }
    var form = card.querySelector(".move-form");
    var select = form.querySelector('select[name="to_state"]');
    var state = column.getAttribute("data-state");
    // The menu lists only the columns a step leads to; a drop elsewhere is still sent,
    // and the answer says why nothing leads there.
    if (!select.querySelector('option[value="' + CSS.escape(state) + '"]')) {
      select.add(new Option(state, state));
    }
    select.value = state;
    form.requestSubmit();
  });

  /* --- SLA countdowns ----------------------------------------------------------------- */

  function tick() {
    document.querySelectorAll(".sla-clock[data-due]").forEach(function (clock) {
      var due = Date.parse(clock.getAttribute("data-due"));
      var slot = clock.querySelector("[data-countdown]");
      if (!slot || isNaN(due)) { return; }
      var minutes = Math.round((due - Date.now()) / 60000);
      var left = Math.abs(minutes);
      var days = Math.floor(left / 1440), hours = Math.floor(left / 60) % 24;
      var time = days ? days + "d " + hours + "h" : hours + "h " + (left % 60) + "m";
      // The page's language words it: "3h 5m left", "overdue by 1d 2h".
      var template = slot.getAttribute(minutes < 0 ? "data-over" : "data-left") || "%(time)s";
      slot.textContent = template.replace("%(time)s", time);
    });
  }
  tick();
  window.setInterval(tick, 30000);
})();
