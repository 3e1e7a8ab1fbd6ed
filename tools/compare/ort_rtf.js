#!/usr/bin/env node
// Time ONNX Runtime (npm onnxruntime-node, CPU) on the clip set, in the same terms and the same
// JSON shape as torch_rtf.py / quasr_rtf.py, so tools/compare/report.py shows it.
//
//   node tools/compare/ort_rtf.js --ort PREFIX --model DIR --clips MANIFEST.tsv
//       --modes fp32=A.onnx,int8=B.onnx [--threads 2] [--spin 0|1] [--ref REF.json] [--json OUT]
//   node tools/compare/ort_rtf.js --ort PREFIX --check A.onnx --ref REF.json [--threads 2]
//
// PREFIX: the npm prefix onnxruntime-node was installed into (PREFIX/node_modules/...).
// DIR: the source model folder; only its name goes into the JSON (report.py's "model" column).
// The ONNX models come from tools/compare/export_onnx.py (input "wav" [1, S] float32 16 kHz,
// output "log_probs" [T, V]) and tools/compare/onnx_quantize_dynamic.py.
//
// Per mode, in a fresh child process (so peak RSS is per mode): create the session
// (intraOpNumThreads = T, interOpNumThreads = 1, graph optimization "all", sequential
// execution, CPU execution provider), run the first clip and the longest once as warm-up, then time
// session.run on every clip once (batch of one). RTF = run time / audio duration; median over
// clips and total time / total audio, as for the other engines. Peak RSS = VmHWM of the child
// (includes the Node.js runtime, ~40 MiB). Model size = bytes of the .onnx file.
// --spin 0 turns off ORT's intra-op thread spinning (session.intra_op.allow_spinning), the
// counterpart of OMP_WAIT_POLICY=passive that run.sh gives both OpenMP engines.
// --ref: PyTorch fp32 log-probs of the first clip (export_onnx.py); the warm-up run's output is
// compared with them and max / mean |delta log-prob| and the argmax agreement are recorded.
'use strict';

const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');

const SR = 16000;
const HEADER_NAMES = new Set(['path', 'audio', 'audio_path', 'audio_filepath', 'wav', 'file',
  'filename']);

function parseArgs(argv) {
  const args = { threads: '2', spin: '1' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad argument ${argv[i]} (every option takes a value)`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

// quasr's TSV manifest: path<TAB>text, optional header, paths relative to the manifest's folder
// (the same rules as torch_rtf.read_manifest).
function readManifest(file) {
  const base = path.dirname(path.resolve(file));
  const clips = [];
  fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).forEach((line, i) => {
    if (!line) return;
    const first = line.split('\t', 1)[0];
    if (i === 0 && HEADER_NAMES.has(first.toLowerCase())) return;
    clips.push(path.isAbsolute(first) ? first : path.join(base, first));
  });
  return clips;
}

// RIFF WAV, PCM 16-bit or IEEE float 32-bit (plain or WAVE_FORMAT_EXTENSIBLE), any channel
// count (averaged to mono, as torch_rtf.load_clip does); the clips are 16 kHz float WAV.
function readWav(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error(`${file}: not a RIFF/WAVE file`);
  }
  let fmt = null;
  for (let pos = 12; pos + 8 <= buf.length;) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      let tag = buf.readUInt16LE(body);
      if (tag === 0xFFFE) tag = buf.readUInt16LE(body + 24);  // sub-format GUID's first 2 bytes
      fmt = { tag, channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${file}: data before fmt`);
      if (fmt.rate !== SR) throw new Error(`${file}: sample rate ${fmt.rate}, expected ${SR}`);
      return decodeSamples(buf.subarray(body, body + size), fmt, file);
    }
    pos = body + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

function decodeSamples(data, fmt, file) {
  let read;
  let width;
  if (fmt.tag === 3 && fmt.bits === 32) {
    read = (o) => data.readFloatLE(o);
    width = 4;
  } else if (fmt.tag === 1 && fmt.bits === 16) {
    read = (o) => data.readInt16LE(o) / 32768;
    width = 2;
  } else {
    throw new Error(`${file}: format ${fmt.tag}/${fmt.bits} bit (want 16-bit PCM or float32)`);
  }
  const n = Math.floor(data.length / (width * fmt.channels));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < fmt.channels; c++) s += read((i * fmt.channels + c) * width);
    out[i] = s / fmt.channels;
  }
  return out;
}

function loadOrt(prefix) {
  return require(path.join(path.resolve(prefix), 'node_modules', 'onnxruntime-node'));
}

async function createSession(ort, onnxPath, args) {
  return ort.InferenceSession.create(onnxPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(args.threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: String(args.spin) } } },
  });
}

async function runClip(ort, session, wav) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', wav, [1, wav.length]) };
  const t = process.hrtime.bigint();
  const out = await session.run(feeds);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const y = out[session.outputNames[0]];
  return { seconds, data: y.data, dims: y.dims };
}

// |ORT - PyTorch| over the reference clip's [frames, vocab] log-probs.
function compareRef(y, refFile) {
  const ref = JSON.parse(fs.readFileSync(refFile, 'utf8'));
  const raw = fs.readFileSync(path.join(path.dirname(refFile), ref.data));
  const r = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const [t, v] = y.dims;
  if (t !== ref.frames || v !== ref.vocab) {
    throw new Error(`output ${t}x${v} vs reference ${ref.frames}x${ref.vocab}`);
  }
  let max = 0;
  let sum = 0;
  let agree = 0;
  for (let i = 0; i < t; i++) {
    let am = 0;
    let ar = 0;
    for (let j = 0; j < v; j++) {
      const k = i * v + j;
      const d = Math.abs(y.data[k] - r[k]);
      max = Math.max(max, d);
      sum += d;
      if (y.data[k] > y.data[i * v + am]) am = j;
      if (r[k] > r[i * v + ar]) ar = j;
    }
    if (am === ar) agree++;
  }
  return { ref_clip: ref.clip, max_abs_dlogprob: max, mean_abs_dlogprob: sum / (t * v),
    argmax_agree: agree / t };
}

function peakRssBytes() {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

// One mode, in the child process: returns its result record.
async function runMode(args) {
  const ort = loadOrt(args.ort);
  const out = { mode: args.child, status: 'ok', error: null, onnx: path.resolve(args.onnx) };
  let stage = 'load';
  try {
    const wavs = readManifest(args.clips).map((c) => ({ path: c, wav: readWav(c) }));
    let t = process.hrtime.bigint();
    const session = await createSession(ort, args.onnx, args);
    out.load_s = Number(process.hrtime.bigint() - t) / 1e9;
    out.model_bytes = fs.statSync(args.onnx).size;
    stage = 'warm-up';
    const warm = await runClip(ort, session, wavs[0].wav);
    if (args.ref) Object.assign(out, compareRef(warm, args.ref));
    // The longest clip too, as every engine here warms up (ORT's arena reaches its
    // steady-state size before timing).
    await runClip(ort, session, wavs.reduce((a, b) => (b.wav.length > a.wav.length ? b : a)).wav);
    stage = 'timing';
    out.clips = [];
    for (const { path: p, wav } of wavs) {
      const { seconds } = await runClip(ort, session, wav);
      const audio = wav.length / SR;
      out.clips.push({ path: p, audio_s: audio, encoder_s: seconds, rtf: seconds / audio });
    }
  } catch (e) {  // reported as a row, not hidden
    out.status = 'failed';
    out.error = `${stage}: ${String(e.message || e).split('\n')[0]}`;
    return out;
  }
  out.audio_s = out.clips.reduce((s, c) => s + c.audio_s, 0);
  out.encoder_s = out.clips.reduce((s, c) => s + c.encoder_s, 0);
  out.median_rtf = median(out.clips.map((c) => c.rtf));
  out.total_rtf = out.encoder_s / out.audio_s;
  out.rtfx = 1 / out.median_rtf;
  return out;
}

function spawnMode(args, mode, onnx) {
  const argv = [__filename, '--ort', args.ort, '--clips', args.clips, '--threads', args.threads,
    '--spin', args.spin, '--child', mode, '--onnx', onnx];
  if (args.ref) argv.push('--ref', args.ref);
  const p = childProcess.spawnSync(process.execPath, argv, { encoding: 'utf8',
    maxBuffer: 64 << 20 });
  if (p.status === 0) return JSON.parse(p.stdout);
  // crashed hard (killed for memory, native abort): still one honest row
  const tail = (p.stderr || '').trim().split('\n').slice(-1)[0] || `signal ${p.signal}`;
  return { mode, status: 'failed', error: `exit ${p.status}: ${tail}` };
}

function parentMain(args) {
  const ort = loadOrt(args.ort);
  const result = { engine: 'onnxruntime', onnxruntime: ort.env.versions.node || null,
    node: process.version, threads: Number(args.threads), spin: Number(args.spin),
    model: path.resolve(args.model), clips: readManifest(args.clips), modes: [] };
  for (const spec of args.modes.split(',').filter(Boolean)) {
    const eq = spec.indexOf('=');
    if (eq < 0) throw new Error(`--modes: "${spec}" is not mode=file.onnx`);
    const mode = spec.slice(0, eq);
    const res = spawnMode(args, mode, spec.slice(eq + 1));
    const extra = res.status === 'ok' ? '' : ` (${res.error})`;
    process.stderr.write(`ort_rtf: ${path.basename(result.model)} ${mode}: ${res.status}${extra}\n`);
    result.modes.push(res);
  }
  const text = JSON.stringify(result, null, 1);
  if (args.json) fs.writeFileSync(args.json, `${text}\n`);
  else process.stdout.write(`${text}\n`);
}

async function checkMain(args) {
  const ort = loadOrt(args.ort);
  const ref = JSON.parse(fs.readFileSync(args.ref, 'utf8'));
  const session = await createSession(ort, args.check, args);
  const y = await runClip(ort, session, readWav(ref.clip));
  process.stdout.write(`${JSON.stringify(compareRef(y, args.ref))}\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.ort) throw new Error('--ort PREFIX (npm prefix of onnxruntime-node) is required');
  if (args.check) return checkMain(args);
  if (args.child) {
    process.stdout.write(JSON.stringify(Object.assign(await runMode(args),
      { peak_rss_bytes: peakRssBytes() })));
    return undefined;
  }
  for (const k of ['model', 'clips', 'modes']) {
    if (!args[k]) throw new Error(`--${k} is required`);
  }
  return parentMain(args);
}

main().catch((e) => {
  process.stderr.write(`ort_rtf: ${e.stack || e}\n`);
  process.exit(1);
});
