// Runs the project's handlers inside Pyodide on Node or Deno, with no network.
//
//   node run.mjs --source DIR --wheels DIR [--mode tests|imports|coldstart] [pytest args...]
//   deno run --allow-read=... run.mjs (the same arguments)
//
// tests:     import every handler module, then run the handler tests with pytest
// imports:   only import every handler module, with only the handlers' core wheels loaded
// coldstart: time from Pyodide start to the first answered request (prints JSON)
import { loadPyodide } from "pyodide";
import { Buffer } from "node:buffer";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = "/home/pyodide/project";
const SHIM = "/home/pyodide/shim";
// Only what the handlers need to answer a request; the rest loads for the tests.
const CORE = ["pyjwt"];

function runtime() {
  return typeof Deno === "undefined" ? `Node ${process.version}` : `Deno ${Deno.version.deno}`;
}

function parse(argv) {
  const options = { mode: "tests", rest: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--source") options.source = argv[++i];
    else if (argv[i] === "--wheels") options.wheels = argv[++i];
    else if (argv[i] === "--mode") options.mode = argv[++i];
    else options.rest.push(argv[i]);
  }
  if (!options.source || !options.wheels) throw new Error("--source and --wheels are required");
  return options;
}

// The job must prove the code runs offline: any attempt to reach the network fails loudly.
function forbidNetwork() {
  const refuse = (what) => () => { throw new Error(`network access attempted: ${what}`); };
  globalThis.fetch = refuse("fetch");
  globalThis.XMLHttpRequest = refuse("XMLHttpRequest");
  globalThis.WebSocket = refuse("WebSocket");
}

function copyTree(pyodide, from, to, keep) {
  pyodide.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const source = path.join(from, name);
    if (statSync(source).isDirectory()) {
      if (name !== "__pycache__" && name !== "node_modules" && name !== "pyodide") {
        copyTree(pyodide, source, `${to}/${name}`, keep);
      }
    } else if (keep(name)) {
      pyodide.FS.writeFile(`${to}/${name}`, readFileSync(source));
    }
  }
}

async function main() {
  const options = parse(process.argv.slice(2));
  const started = performance.now();
  console.log(`pyodide job: ${options.mode} on ${runtime()}`);
  forbidNetwork();
  const pyodide = await loadPyodide();
  pyodide.setStdout({ write: (bytes) => { process.stdout.write(Buffer.from(bytes)); return bytes.length; } });
  pyodide.setStderr({ write: (bytes) => { process.stderr.write(Buffer.from(bytes)); return bytes.length; } });
  const booted = performance.now();

  const all = readdirSync(options.wheels).filter((name) => name.endsWith(".whl")).sort();
  // The handler modules must import with the core alone: the stripe SDK is loaded on first use.
  const wanted = options.mode !== "tests"
    ? all.filter((name) => CORE.some((prefix) => name.toLowerCase().startsWith(`${prefix}-`)))
    : all;
  // A pure-Python wheel is only files: unpacked into site-packages at once, where loadPackage spends
  // 150 ms on its own bookkeeping first. Wheels with compiled code go through loadPackage.
  const pure = wanted.filter((name) => name.endsWith("-none-any.whl"));
  const sitePackages = pure.length > 0 ? pyodide.runPython("import site; site.getsitepackages()[0]") : "";
  const problems = [];
  for (const name of pure) {
    const wheel = new Uint8Array(readFileSync(path.resolve(options.wheels, name)));
    try {
      pyodide.unpackArchive(wheel, "wheel", { extractDir: sitePackages });
    } catch (error) {
      problems.push(`error occurred while loading ${name}: ${error.message.trim().split("\n").pop()}`);
    }
  }
  const compiled = wanted.filter((name) => !pure.includes(name));
  if (compiled.length > 0) {
    await pyodide.loadPackage(compiled.map((name) => path.resolve(options.wheels, name)), {
      messageCallback: () => {},
      errorCallback: (message) => problems.push(message),
    });
  }
  // loadPackage reports failures only through its callback, so any message is a failure.
  if (problems.length > 0) {
    console.error(`loading wheels failed:\n${problems.join("\n")}`);
    process.exit(1);
  }
  const loaded = performance.now();

  pyodide.FS.mkdirTree(SHIM);
  pyodide.FS.writeFile(`${SHIM}/rpds.py`, "from pyrsistent_as_rpds.pure import *  # noqa: F403\n");
  const source = path.resolve(options.source);
  copyTree(pyodide, path.join(source, "handlers"), `${PROJECT}/handlers`, (name) => name.endsWith(".py"));
  copyTree(pyodide, path.join(source, "schemas"), `${PROJECT}/schemas`, (name) => name.endsWith(".json"));
  copyTree(pyodide, path.join(source, "tests"), `${PROJECT}/tests`, (name) => /\.(py|json)$/.test(name));
  pyodide.FS.writeFile(`${PROJECT}/pyproject.toml`, readFileSync(path.join(source, "pyproject.toml")));
  pyodide.FS.writeFile(`${PROJECT}/job.py`, readFileSync(path.join(HERE, "job.py")));

  pyodide.runPython(`import os, sys\nsys.path[:0] = ["${PROJECT}", "${SHIM}"]\nos.chdir("${PROJECT}")`);
  const job = pyodide.pyimport("job");
  if (options.mode === "coldstart") {
    const answer = job.first_request().toJs();
    const answered = performance.now();
    console.log(JSON.stringify({
      status: answer[0],
      boot_ms: Math.round(booted - started),
      wheels_ms: Math.round(loaded - booted),
      first_request_ms: Math.round(answered - loaded),
      import_ms: Math.round(answer[2]),
      build_ms: Math.round(answer[3]),
      answer_ms: Math.round(answer[4]),
      total_ms: Math.round(answered - started),
    }));
    process.exit(answer[0] === 200 ? 0 : 1);
  }
  // A promising call, so that code under test may wait on JavaScript promises (JSPI).
  const code = await job.main.callPromising(options.mode, pyodide.toPy(options.rest));
  process.exit(code);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
