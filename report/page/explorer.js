// The beat explorer's model side: runs a variant's exported MusicVAE (beatvae.browser_model) in the
// page with @magenta/music (the `mm` global of its full bundle, TensorFlow.js included as mm.tf).
// A page opened from file:// may not fetch local files, so each model's spec, manifest and weights
// are carried inline (beatvaeExplorer.register) and magenta.js's fetches of them are answered here.
// It runs before the bundle: magenta.js keeps the `fetch` it finds when it loads.
(function () {
  "use strict";
  let tf;  // mm.tf, once the bundle has loaded
  const MODEL_URL = "beatvae-model:";  // magenta.js fetches MODEL_URL + name + "/" + file
  const inline = {};  // name -> {spec, manifest, weights (Uint8Array)}
  const loaded = {};  // name -> Promise of an initialized mm.MusicVAE
  const DRUM_VELOCITY = 80;  // what Magenta's drum decoder writes (OUTPUT_VELOCITY), as the page's files have

  const pageFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    if (!url.startsWith(MODEL_URL)) return pageFetch(input, init);
    const [name, file] = url.slice(MODEL_URL.length).split("/");
    const model = inline[name];
    if (!model) return Promise.resolve(new Response("no inline model " + name, {status: 404}));
    const bodies = {"config.json": JSON.stringify(model.spec), "weights_manifest.json": JSON.stringify(model.manifest)};
    for (const group of model.manifest) group.paths.forEach((path) => { bodies[path] = model.weights; });
    return Promise.resolve(file in bodies ? new Response(bodies[file]) : new Response("", {status: 404}));
  };

  function fromBase64(text) {
    const bytes = atob(text);
    const weights = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; ++i) weights[i] = bytes.charCodeAt(i);
    return weights;
  }

  // magenta.js's initLstmCells: an LSTM stack whose initial (c, h) per layer is a tanh projection of
  // `embedding`, as Magenta's initial_cell_state_from_embedding makes it.
  function lstmStack(embedding, layers, toInitialState) {
    const states = tf.split(embedding.matMul(toInitialState.kernel).add(toInitialState.bias).tanh(), 2 * layers.length, 1);
    const forgetBias = tf.scalar(1.0);
    return {
      cells: layers.map((layer) => (data, c, h) => tf.basicLSTMCell(forgetBias, layer.kernel, layer.bias, data, c, h)),
      c: layers.map((_, i) => states[2 * i]),
      h: layers.map((_, i) => states[2 * i + 1]),
    };
  }

  // Magenta's HierarchicalLstmDecoder around magenta.js's (flat) decoder of one bar, `core`: a
  // conductor LSTM makes one embedding per bar, from which `core` decodes the bar. With
  // `autoregressive` (Magenta's `disable_autoregression: false`) each conductor step reads the core
  // decoder's final state of the bar before (c and h of each layer, in that order) beside z; without,
  // a zero. The core decoder's own sampling (argmax, or softmax at a temperature) is used.
  const CONDUCTOR = "decoder/hierarchical_level_0/";
  class ConductedDecoder {
    constructor(core, vars, conductor) {
      const layer = (prefix) => ({kernel: vars[prefix + "kernel"], bias: vars[prefix + "bias"]});
      this.layers = [];
      for (let i = 0; CONDUCTOR + `cell_${i}/lstm_cell/kernel` in vars; ++i) this.layers.push(layer(CONDUCTOR + `cell_${i}/lstm_cell/`));
      this.toInitialState = layer(CONDUCTOR + "initial_state/");
      this.core = core;
      this.numSegments = conductor.numSegments;
      this.autoregressive = conductor.autoregressive;
      this.zDims = this.toInitialState.kernel.shape[0];
      this.outputDims = core.outputDims;
    }

    decode(z, length, initialInput, temperature) {
      const core = this.core;
      const batchSize = z.shape[0];
      return tf.tidy(() => {
        const conductor = lstmStack(z, this.layers, this.toInitialState);
        const coreStateSize = core.lstmCellVars.reduce((size, layer) => size + layer.bias.shape[0] / 2, 0);
        let barState = tf.zeros([batchSize, coreStateSize]);
        let previous = tf.zeros([batchSize, core.outputDims]);
        const samples = [];
        for (let bar = 0; bar < this.numSegments; ++bar) {
          const input = this.autoregressive ? tf.concat([barState, z], 1) : tf.zeros([batchSize, 1]);
          [conductor.c, conductor.h] = tf.multiRNNCell(conductor.cells, input, conductor.c, conductor.h);
          const embedding = conductor.h[conductor.h.length - 1];
          const cell = lstmStack(embedding, core.lstmCellVars, core.zToInitStateVars);
          for (let step = 0; step < length / this.numSegments; ++step) {
            [cell.c, cell.h] = tf.multiRNNCell(cell.cells, tf.concat([previous, embedding], 1), cell.c, cell.h);
            const logits = cell.h[cell.h.length - 1].matMul(core.outputProjectVars.kernel).add(core.outputProjectVars.bias);
            previous = core.sample(logits, temperature);
            samples.push(previous);
          }
          barState = tf.concat(cell.c.flatMap((c, i) => [c, cell.h[i]]), 1);
        }
        return tf.stack(samples, 1);
      });
    }
  }

  async function model(name) {
    if (!loaded[name]) {
      tf = mm.tf;
      loaded[name] = (async () => {
        const spec = inline[name].spec;
        const vae = new mm.MusicVAE(MODEL_URL + name, spec);
        await vae.initialize();
        // magenta.js built a flat model; its private decoder and weights are wrapped by the conductor.
        if (spec.beatvae.conductor) {
          vae.decoder = new ConductedDecoder(vae.decoder, vae.rawVars, spec.beatvae.conductor);
          vae.zDims = vae.decoder.zDims;
        }
        return vae;
      })();
    }
    return loaded[name];
  }

  // Decodes latent vectors (arrays of numbers) into quantized NoteSequences; `temperature` 0 or
  // undefined takes the most likely class at each step. `hits` (a groove model's controls): [steps][classes].
  async function decode(name, zs, temperature, hits) {
    const vae = await model(name);
    const spec = inline[name].spec;
    const z = tf.tensor2d(zs);
    const controls = hits && spec.extraControls ? {extraControls: {[spec.extraControls[0].name]: tf.tensor2d(hits)}} : undefined;
    try {
      return await vae.decode(z, temperature || undefined, controls, spec.beatvae.stepsPerQuarter);
    } finally {
      z.dispose();
      if (controls) Object.values(controls.extraControls).forEach((t) => t.dispose());
    }
  }

  // A groove model's values for one window of hits ([steps][classes] of 0/1), as Magenta's humanize
  // does it (beatvae.groove.humanize_windows): the hits (velocities and offsets zero) encoded to the
  // mean of their posterior and decoded, the hits given as controls when the model takes them. The
  // decoder's own hits are its most likely ones. Returns [steps][3 * classes]: hits, velocities (0-1)
  // and offsets (-1..1, in half steps) per class.
  async function groove(name, hits) {
    const vae = await model(name);
    const spec = inline[name].spec;
    const classes = hits[0].length;
    const hitsTensor = tf.tensor2d(hits);
    const controls = spec.extraControls ? {extraControls: {[spec.extraControls[0].name]: hitsTensor}} : undefined;
    const inputs = tf.tidy(() => tf.concat([hitsTensor, tf.zeros([hits.length, 2 * classes])], 1).expandDims(0));
    const z = await vae.encodeTensors(inputs, controls);
    const grooves = await vae.decodeTensors(z, undefined, controls);
    const values = await grooves.array();
    [hitsTensor, inputs, z, grooves].forEach((t) => t.dispose());
    return values[0];
  }

  // A quantized drum beat played with a groove model's velocities and timing, as
  // beatvae.groove.apply_groove does it: every note stays and takes the velocity and onset offset
  // decoded at its step and class, moved `amount` (0-1) of the way from the beat as it was
  // (velocity 80, on the grid).
  async function humanize(name, sequence, amount) {
    const spec = inline[name].spec;
    const converter = (await model(name)).dataConverter;
    const numSteps = spec.beatvae.numSteps;
    const classes = converter.pitchClasses.length;
    const classOf = (pitch) => converter.pitchToClass.get(pitch);
    const hits = Array.from({length: numSteps}, () => new Array(classes).fill(0));
    for (const note of sequence.notes) {
      if (classOf(note.pitch) !== undefined && note.quantizedStartStep < numSteps) hits[note.quantizedStartStep][classOf(note.pitch)] = 1;
    }
    const values = await groove(name, hits);
    const stepSeconds = 60 / sequence.tempos[0].qpm / spec.beatvae.stepsPerQuarter;
    const notes = sequence.notes.map((note) => {
      const step = note.quantizedStartStep, drum = classOf(note.pitch);
      const played = {pitch: note.pitch, velocity: note.velocity || DRUM_VELOCITY, isDrum: true,
        startTime: step * stepSeconds, endTime: (step + 1) * stepSeconds};
      if (drum === undefined || step >= numSteps) return played;
      const velocity = Math.min(127, Math.max(1, Math.round(values[step][classes + drum] * 127)));
      const offset = Math.min(0.5, Math.max(-0.5, values[step][2 * classes + drum] / 2));
      played.velocity = Math.round(DRUM_VELOCITY + amount * (velocity - DRUM_VELOCITY));
      played.startTime = Math.max(0, (step - amount * offset) * stepSeconds);
      played.endTime = played.startTime + stepSeconds;
      return played;
    });
    return {notes, tempos: sequence.tempos, totalTime: numSteps * stepSeconds};
  }

  window.beatvaeExplorer = {
    register(name, spec, manifest, weightsBase64) {
      inline[name] = {spec, manifest, weights: fromBase64(weightsBase64)};
    },
    spec: (name) => inline[name].spec,
    names: () => Object.keys(inline),
    model,
    decode,
    groove,
    humanize,
    fromBase64,  // the controls decode the kits' hits with it too
  };
})();
