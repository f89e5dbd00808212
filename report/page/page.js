// Behaviour of the beats page: sortable tables, piano rolls that follow the rendered audio, and a
// status on <body> (players loaded, audio decoded, errors) that users and the browser test read.
(function () {
  "use strict";
  const body = document.body;
  const errors = window.beatvaeErrors || [];
  const count = (key) => { body.dataset[key] = String(Number(body.dataset[key] || 0) + 1); };

  function showErrors() {
    body.dataset.errors = String(errors.length);
    const box = document.getElementById("errors");
    if (errors.length && box) {
      box.textContent = "Problems while loading this page: " + errors.join(" | ");
      box.classList.add("shown");
    }
  }
  window.addEventListener("error", showErrors);

  // Sortable tables: a header's button (a click, or Enter or Space on it) sorts by its column, again
  // reverses; numbers sort as numbers. The listener sits on the header, so a click anywhere on it sorts.
  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = Array.from(table.tHead.rows[0].cells);
    headers.forEach((header, column) => header.addEventListener("click", () => {
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const cell = row.cells[column];
        const number = Number(cell.dataset.value);
        return cell.dataset.value !== undefined && cell.dataset.value !== "" && !Number.isNaN(number) ? number : cell.textContent;
      };
      const rows = Array.from(table.tBodies[0].rows);
      rows.sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach((row) => table.tBodies[0].appendChild(row));
    }));
  }

  // The rolls' geometry comes from the page (beatvae.page_cards), which labels the drum lanes to match.
  const roll = (key) => Number(body.dataset[key]);
  const rollConfig = (pixelsPerSecond) => ({
    noteHeight: roll("rollNoteHeight"), noteSpacing: 1, pixelsPerTimeStep: pixelsPerSecond,
    minPitch: roll("rollMinPitch"), maxPitch: roll("rollMaxPitch"),
  });
  for (const visualizer of document.querySelectorAll("midi-visualizer")) {
    visualizer.config = rollConfig(Number(visualizer.dataset.pixelsPerSecond));
  }

  // A player is counted once it holds its whole file: Magenta ends a sequence at its last note, the
  // file ends on its last bar line, and so should the player (it loads again with the new length).
  // Players may finish loading before this script runs (a big page is parsed in slices): each is
  // settled now as well as on its load event, whichever comes first.
  function settle(player) {
    const sequence = player.noteSequence;
    if (!sequence || player.dataset.ready || Math.abs(player.duration - sequence.totalTime) > 1e-3) return;  // loading
    const seconds = Number(player.dataset.seconds);
    if (seconds && sequence.totalTime < seconds - 1e-3) {
      const whole = window.core.sequences.clone(sequence);
      whole.totalTime = seconds;
      player.noteSequence = whole;
      return;
    }
    player.dataset.ready = "true";
    count("playersLoaded");
    drawn();
  }
  for (const player of document.querySelectorAll("midi-player")) {
    player.addEventListener("load", () => settle(player));
    settle(player);
  }
  function drawn() {
    const visualizers = Array.from(document.querySelectorAll("midi-visualizer"));
    body.dataset.visualizers = String(visualizers.length);
    body.dataset.visualizersDrawn = String(visualizers.filter((v) => v.querySelector("svg rect")).length);
    // Counted here, not in a listener: an embedded file may be decoded before this script runs.
    const decoded = Array.from(document.querySelectorAll("audio")).filter((a) => a.readyState >= 1 && a.duration > 0);
    body.dataset.audioDecoded = String(decoded.length);
  }
  setInterval(drawn, 500);  // visualizers with their own src announce nothing when drawn

  // Rendered audio drives the piano rolls of its card: a playhead, and the sounding notes lit.
  for (const card of document.querySelectorAll(".beat")) {
    const audio = card.querySelector("audio");
    if (!audio) continue;
    audio.addEventListener("loadedmetadata", drawn);
    audio.addEventListener("error", () => { errors.push("cannot play " + card.dataset.name); showErrors(); });
    const rolls = Array.from(card.querySelectorAll(".roll"));
    let frame = null;
    function follow() {
      const time = audio.currentTime;
      for (const roll of rolls) {
        const offset = Number(roll.dataset.offset || 0);
        const length = Number(roll.dataset.seconds);
        const visualizer = roll.querySelector("midi-visualizer");
        const playhead = roll.querySelector(".playhead");
        const inside = time >= offset && time < offset + length;
        playhead.style.display = inside ? "block" : "none";
        visualizer.classList.toggle("playing", inside && !audio.paused);
        if (!inside) continue;
        const local = time - offset;
        const x = local * Number(visualizer.dataset.pixelsPerSecond);
        playhead.style.left = x + "px";
        if (roll.scrollWidth > roll.clientWidth) roll.scrollLeft = Math.max(0, x - roll.clientWidth / 3);
        visualizer.redraw({ startTime: local, endTime: local, pitch: 0 });
      }
      frame = audio.paused ? null : requestAnimationFrame(follow);
    }
    audio.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(follow); });
    audio.addEventListener("seeked", follow);
    audio.addEventListener("pause", follow);
  }

  function loaded() { body.dataset.loaded = "true"; drawn(); showErrors(); }
  if (document.readyState === "complete") loaded(); else window.addEventListener("load", loaded);
})();
