// The beat explorer's controls (one <section class="explorer"> per drum variant, written by
// beatvae.page_explorer): the run's own samples listed first, then Generate, More like this,
// Interpolate, Humanize, tempo and kit; each beat gets a play button, a piano roll and a loop-exact
// MIDI download, and stays listed until the page is closed. One beat plays at a time, with the
// sampled kit chosen. The model side is explorer.js (window.beatvaeExplorer).
(function () {
  "use strict";
  const explorer = window.beatvaeExplorer;
  const SVG = "http://www.w3.org/2000/svg";
  const TICKS_PER_QUARTER = 480;  // as beatvae.midi writes files
  const INTERPOLATION_STEPS = 8;  // 8 x 4 bars: the workflow's 32-bar interpolation

  // Seeded draws of the latent vectors (mulberry32, then Box-Muller): the same seed gives the same
  // z on every machine. magenta.js's own sampling at a temperature (tf.multinomial) takes no seed.
  function random(seed) {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function normals(uniform, count) {
    const values = [];
    while (values.length < count) {
      const radius = Math.sqrt(-2 * Math.log(1 - uniform())), angle = 2 * Math.PI * uniform();
      values.push(radius * Math.cos(angle), radius * Math.sin(angle));
    }
    return values.slice(0, count);
  }

  // Spherical interpolation, as beatvae.generation.slerp (linear when the two are parallel).
  function slerp(first, last, t) {
    const dot = first.reduce((sum, x, i) => sum + x * last[i], 0);
    const norm = (v) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / (norm(first) * norm(last)))));
    if (Math.sin(omega) < 1e-6) return first.map((x, i) => (1 - t) * x + t * last[i]);
    return first.map((x, i) => (Math.sin((1 - t) * omega) * x + Math.sin(t * omega) * last[i]) / Math.sin(omega));
  }

  // --- MIDI: a type-0 General MIDI drum file that loops, as beatvae.midi.write_midi writes one ---
  function variableLength(value) {
    const bytes = [value & 0x7f];
    while ((value >>= 7)) bytes.unshift((value & 0x7f) | 0x80);
    return bytes;
  }
  // `notes`: [{pitch, velocity, startTime, endTime}] in seconds at `qpm`; the track ends on the bar
  // line after `seconds` (a silent last bar still counts), so a 4-bar beat is 4 bars in a DAW.
  // `kit`: the General MIDI (GM2) drum kit, a program change on channel 10 (0, standard: none).
  function midiFile(notes, qpm, seconds, kit) {
    const tick = (time) => Math.round(time * qpm / 60 * TICKS_PER_QUARTER);
    const barTicks = 4 * TICKS_PER_QUARTER;
    const endTick = Math.max(1, Math.ceil(tick(seconds) / barTicks - 1e-6)) * barTicks;
    const events = [];  // [tick, order (offs first), bytes]
    const byPitch = {};
    notes.forEach((note) => (byPitch[note.pitch] = byPitch[note.pitch] || []).push(note));
    for (const [pitch, hits] of Object.entries(byPitch)) {
      hits.sort((a, b) => a.startTime - b.startTime);
      hits.forEach((note, i) => {
        const start = Math.min(tick(note.startTime), endTick - 1);
        const next = i + 1 < hits.length ? tick(hits[i + 1].startTime) : endTick;
        const end = Math.max(start + 1, Math.min(tick(note.endTime), next, endTick));  // one pitch never overlaps
        events.push([start, 1, [0x99, Number(pitch), note.velocity]], [end, 0, [0x89, Number(pitch), 0]]);
      });
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const tempo = Math.round(60000000 / qpm);
    const name = Array.from("Drums", (c) => c.charCodeAt(0));
    const track = [0, 0xff, 0x03, name.length, ...name, 0, 0xff, 0x51, 3, tempo >> 16, (tempo >> 8) & 0xff, tempo & 0xff,
      0, 0xff, 0x58, 4, 4, 2, 24, 8];
    if (kit) track.push(0, 0xc9, kit);
    let now = 0;
    for (const [at, , bytes] of events) { track.push(...variableLength(at - now), ...bytes); now = at; }
    track.push(...variableLength(endTick - now), 0xff, 0x2f, 0);
    const length = [track.length >>> 24, (track.length >>> 16) & 0xff, (track.length >>> 8) & 0xff, track.length & 0xff];
    const header = [0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, TICKS_PER_QUARTER >> 8, TICKS_PER_QUARTER & 0xff];
    return new Uint8Array([...header, 0x4d, 0x54, 0x72, 0x6b, ...length, ...track]);
  }

  // --- Playback: a sampler of the chosen kit, one beat at a time ---
  // The kits are FluidR3 GM's General MIDI drum kits, one OGG hit per kit and drum pitch
  // (beatvae.drum_kits, inlined as window.beatvaeDrumKits), played on the page's own AudioContext:
  // every note of a beat is an AudioBufferSourceNode scheduled when it starts, so a beat stopping
  // and the next starting share no synth that could refuse a start time (as Tone did in mm.Player).
  const drumKits = window.beatvaeDrumKits;
  const kitOfProgram = {};  // General MIDI program (the Kit field's value) -> kit name
  Object.entries(drumKits.kits).forEach(([kit, {program}]) => { kitOfProgram[program] = kit; });
  const LEAD_SECONDS = 0.05;  // from the click to the first note: time to schedule every note
  let audio = null;  // the AudioContext, made on the first Play (browsers allow sound after a click)
  const decoded = {};  // kit -> Promise of {pitch: AudioBuffer}, decoded on the kit's first use

  function kitBuffers(kit) {
    if (!decoded[kit]) {
      const samples = Object.entries(drumKits.kits[kit].samples);
      decoded[kit] = Promise.all(samples.map(async ([pitch, ogg]) => [pitch, await audio.decodeAudioData(explorer.fromBase64(ogg).buffer)]))
        .then(Object.fromEntries);
    }
    return decoded[kit];
  }

  let playing = null;  // {button, sources, timer}: the beat playing
  // Ends the beat playing; `ringOut`: it reached its end, so its last hits ring on.
  function stop(ringOut = false) {
    if (!playing) return;
    if (!ringOut) playing.sources.forEach((source) => source.stop());
    clearTimeout(playing.timer);
    playing.button.textContent = "Play";
    playing.button.setAttribute("aria-pressed", "false");
    playing = null;
    document.body.dataset.explorerPlaying = "";
  }
  // `sequence`: {notes [{pitch, velocity, startTime}], totalTime} in seconds; `program`: the kit's.
  async function play(button, sequence, program) {
    const again = playing && playing.button === button;
    stop();
    if (again) return;
    const beat = {button, sources: [], timer: null};
    playing = beat;
    button.textContent = "Stop";
    button.setAttribute("aria-pressed", "true");
    document.body.dataset.explorerPlaying = button.closest("li").id;
    audio = audio || new AudioContext();
    await audio.resume();
    const kit = kitOfProgram[program];
    const buffers = await kitBuffers(kit);
    if (playing !== beat) return;  // stopped, or another beat chosen, meanwhile
    const start = audio.currentTime + LEAD_SECONDS;
    for (const note of sequence.notes) {
      if (!(note.pitch in buffers)) continue;  // the models only write the kit's pitches
      const source = audio.createBufferSource();
      source.buffer = buffers[note.pitch];
      const gain = audio.createGain();
      gain.gain.value = note.velocity / 127;
      source.connect(gain).connect(audio.destination);
      source.start(start + note.startTime);
      beat.sources.push(source);
    }
    beat.timer = setTimeout(() => stop(true), (LEAD_SECONDS + sequence.totalTime) * 1000);
    document.body.dataset.explorerKit = kit;
    document.body.dataset.explorerSources = String(beat.sources.length);
  }

  // --- One explorer section ---
  function setUp(section) {
    const name = section.dataset.model;
    const groove = section.dataset.groove;
    const spec = explorer.spec(name);
    const {zSize, numSteps, stepsPerQuarter} = spec.beatvae;
    const lanes = JSON.parse(section.dataset.lanes);  // [[pitch, name], ...], kick first
    const form = section.querySelector("form");
    const list = section.querySelector("ol.explorer-beats");
    const status = section.querySelector(".explorer-status");
    const beats = [];  // every beat listed, oldest first: {id, z, sequence (quantized) or segments, label, element}
    section.explorerBeats = beats;  // for the page's tests and users' consoles
    const value = (field) => Number(form.elements[field].value);

    function say(text) { status.textContent = text; }
    // The model runs on the page's one thread; a beat playing goes on (its notes are all scheduled).
    async function busy(what, work) {
      section.dataset.busy = "true";
      say(what + "...");
      try { await work(); say(""); } catch (error) { say("Failed: " + error); console.error(error); }
      finally { section.dataset.busy = ""; section.dataset.beats = String(beats.length); }
    }

    // What plays and downloads: the beat at the page's tempo, humanized when asked.
    async function played(beat) {
      const qpm = value("qpm");
      const stepSeconds = 60 / qpm / stepsPerQuarter;
      const segments = beat.segments || [beat.sequence];
      const notes = [];
      for (const [index, segment] of segments.entries()) {
        const tempoed = {...segment, tempos: [{time: 0, qpm}]};
        const humanizing = groove && form.elements.humanize.checked;
        const humanized = humanizing ? await explorer.humanize(groove, tempoed, value("amount") / 100) : null;
        const offset = index * numSteps * stepSeconds;
        const segmentNotes = humanized ? humanized.notes : segment.notes.map((note) => ({
          pitch: note.pitch, velocity: note.velocity || 80,
          startTime: note.quantizedStartStep * stepSeconds, endTime: note.quantizedEndStep * stepSeconds}));
        segmentNotes.forEach((note) => notes.push({...note, isDrum: true,
          startTime: note.startTime + offset, endTime: note.endTime + offset}));
      }
      const totalTime = segments.length * numSteps * stepSeconds;
      return {notes, qpm, totalTime, sequence: {notes, tempos: [{time: 0, qpm}], totalTime}};
    }

    function roll(beat) {
      const steps = (beat.segments || [beat.sequence]).length * numSteps;
      const laneHeight = 9, labelWidth = 64, stepWidth = Math.max(2, Math.min(8, 512 / steps));
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", labelWidth + steps * stepWidth);
      svg.setAttribute("height", lanes.length * laneHeight);
      svg.setAttribute("role", "img");
      const laneOf = {};
      lanes.forEach(([pitch, laneName], i) => {
        const y = (lanes.length - 1 - i) * laneHeight;  // kick at the bottom, as the page's other rolls
        laneOf[pitch] = y;
        const label = document.createElementNS(SVG, "text");
        Object.entries({x: labelWidth - 4, y: y + laneHeight - 1, "text-anchor": "end", "font-size": 8}).forEach(([k, v]) => label.setAttribute(k, v));
        label.textContent = laneName;
        svg.appendChild(label);
      });
      for (let bar = 0; bar <= steps / 16; ++bar) {
        const line = document.createElementNS(SVG, "line");
        const x = labelWidth + bar * 16 * stepWidth;
        Object.entries({x1: x, x2: x, y1: 0, y2: lanes.length * laneHeight, class: "bar-line"}).forEach(([k, v]) => line.setAttribute(k, v));
        svg.appendChild(line);
      }
      let count = 0;
      (beat.segments || [beat.sequence]).forEach((segment, index) => segment.notes.forEach((note) => {
        if (!(note.pitch in laneOf)) return;
        const rect = document.createElementNS(SVG, "rect");
        const x = labelWidth + (index * numSteps + note.quantizedStartStep) * stepWidth;
        Object.entries({x, y: laneOf[note.pitch] + 1, width: stepWidth, height: laneHeight - 2, class: "hit"}).forEach(([k, v]) => rect.setAttribute(k, v));
        svg.appendChild(rect);
        count += 1;
      }));
      svg.setAttribute("aria-label", `piano roll: ${count} hits over ${steps / 16} bars`);
      svg.dataset.notes = String(count);
      return svg;
    }

    function button(text, action) {
      const element = document.createElement("button");
      element.type = "button";
      element.textContent = text;
      element.addEventListener("click", action);
      return element;
    }

    function add(beat) {
      beat.id = `${section.id}-beat-${beats.length + 1}`;
      beats.push(beat);
      const item = document.createElement("li");
      item.id = beat.id;
      item.className = "explorer-beat";
      const title = document.createElement("p");
      title.className = "beat-title";
      title.textContent = `${beats.length}. ${beat.label}`;
      const playButton = button("Play", async () => play(playButton, (await played(beat)).sequence, value("kit")));
      playButton.setAttribute("aria-pressed", "false");
      playButton.className = "play";
      const download = document.createElement("a");
      download.textContent = "MIDI";
      download.className = "download";
      download.download = `${name}-${beat.id.replace(section.id + "-", "")}.mid`;
      download.href = "#";
      // Made when clicked, so the file has the tempo, kit and humanizing chosen then.
      download.addEventListener("click", async (event) => {
        if (download.dataset.ready) { delete download.dataset.ready; return; }
        event.preventDefault();
        const made = await played(beat);
        if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
        download.href = URL.createObjectURL(new Blob([midiFile(made.notes, made.qpm, made.totalTime, value("kit"))], {type: "audio/midi"}));
        download.dataset.ready = "true";
        download.click();
      });
      const tools = document.createElement("p");
      tools.className = "beat-tools";
      tools.append(playButton, " ", download);
      if (!beat.segments) {
        const pick = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "pick";
        box.value = String(beats.length - 1);
        pick.append(box, " interpolate");
        tools.append(" ", button("More like this", () => moreLike(beat)), " ", pick);
      }
      item.append(title, roll(beat), tools);
      list.prepend(item);  // the newest first
      beat.element = item;
    }

    // The run's own samples (beatvae.page_explorer.run_beats), listed first: [step, pitch, velocity]
    // notes on the models' grid, and the z each was decoded from, for More like this and Interpolate.
    function addRunBeats() {
      for (const run of JSON.parse(section.dataset.runBeats || "[]")) {
        const notes = run.notes.map(([step, pitch, velocity]) => ({pitch, velocity, isDrum: true,
          quantizedStartStep: step, quantizedEndStep: step + 1}));
        add({z: run.z, label: run.label, sequence: {notes, totalQuantizedSteps: numSteps, quantizationInfo: {stepsPerQuarter}}});
      }
      section.dataset.beats = String(beats.length);
    }

    async function decodeAll(zs, labels) {
      const sequences = await explorer.decode(name, zs, value("temperature"));
      sequences.forEach((sequence, i) => add({z: zs[i], sequence, label: labels[i]}));
    }

    function generate() {
      return busy("Generating", async () => {
        const count = value("count"), seed = value("seed"), temperature = value("temperature");
        const draws = normals(random(seed), count * zSize);
        const zs = Array.from({length: count}, (_, i) => draws.slice(i * zSize, (i + 1) * zSize));
        await decodeAll(zs, zs.map((_, i) => `new beat ${i + 1} of ${count} (seed ${seed}, temperature ${temperature})`));
        form.elements.seed.value = String(seed + 1);  // the next click makes new beats
      });
    }

    function moreLike(beat) {
      return busy("Making variations", async () => {
        const count = value("count"), nudge = value("nudge"), seed = value("seed");
        const draws = normals(random(seed), count * zSize);
        const zs = Array.from({length: count}, (_, i) => beat.z.map((x, d) => x + nudge * draws[i * zSize + d]));
        const source = beats.indexOf(beat) + 1;
        await decodeAll(zs, zs.map((_, i) => `like beat ${source}, ${i + 1} of ${count} (z nudged by ${nudge}, seed ${seed})`));
        form.elements.seed.value = String(seed + 1);
      });
    }

    function interpolate() {
      const picked = Array.from(list.querySelectorAll("input.pick:checked")).map((box) => beats[Number(box.value)]);
      if (picked.length !== 2) { say("Pick two beats (their 'interpolate' boxes) first."); return; }
      return busy("Interpolating", async () => {
        const [first, last] = picked.sort((a, b) => beats.indexOf(a) - beats.indexOf(b));
        const zs = Array.from({length: INTERPOLATION_STEPS}, (_, i) => slerp(first.z, last.z, i / (INTERPOLATION_STEPS - 1)));
        const segments = await explorer.decode(name, zs, value("temperature"));
        const label = `interpolation from beat ${beats.indexOf(first) + 1} to beat ${beats.indexOf(last) + 1}` +
          ` (${INTERPOLATION_STEPS} steps of 4 bars)`;
        add({z: null, segments, zs, label});
        showStep(beats[beats.length - 1]);
      });
    }

    // The slider walks the last interpolation: the step it points at plays (4 bars, looped once).
    const slider = form.elements.walk;
    function showStep(interpolation) {
      slider.disabled = false;
      slider.max = String(INTERPOLATION_STEPS - 1);
      slider.interpolation = interpolation;
    }
    slider.addEventListener("input", async () => {
      const interpolation = slider.interpolation;
      if (!interpolation) return;
      const step = Number(slider.value);
      form.querySelector("output[name=walk-step]").textContent = `step ${step + 1} of ${INTERPOLATION_STEPS}`;
      const made = await played({sequence: interpolation.segments[step]});
      stop();  // a step plays even while the step before does (play() alone would toggle it off)
      play(interpolation.element.querySelector("button.play"), made.sequence, value("kit"));
    });

    addRunBeats();
    form.addEventListener("submit", (event) => event.preventDefault());
    form.querySelector("[data-action=generate]").addEventListener("click", generate);
    form.querySelector("[data-action=interpolate]").addEventListener("click", interpolate);
    for (const field of ["qpm", "kit", "humanize", "amount"]) {
      if (form.elements[field]) form.elements[field].addEventListener("change", () => stop());  // the next play uses them
    }
    explorer.model(name).then(() => { section.dataset.ready = "true"; }, (error) => say("The model did not load: " + error));
    if (groove) explorer.model(groove).catch((error) => say("The groove model did not load: " + error));
  }

  window.beatvaeExplorerMidi = midiFile;  // for the page's tests and users' consoles
  document.querySelectorAll("section.explorer").forEach(setUp);
})();
