// End-to-end harness: starts the stand-ins and a real `flowgate serve`, launches headless Chromium.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
export const artifactsDir = process.env.FLOWGATE_E2E_ARTIFACTS ?? join(here, "artifacts");

/** Cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config), asked from cargo itself. */
function targetDir() {
  if (process.env.CARGO_TARGET_DIR) return process.env.CARGO_TARGET_DIR;
  const out = execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: repoRoot,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out).target_directory;
}

export function binaries() {
  const needTarget = !process.env.FLOWGATE_BIN || !process.env.FLOWGATE_E2E_ENV_BIN;
  const target = needTarget ? targetDir() : "";
  return {
    flowgate: process.env.FLOWGATE_BIN ?? join(target, "debug", "flowgate"),
    env: process.env.FLOWGATE_E2E_ENV_BIN ?? join(target, "debug", "examples", "e2e_env"),
  };
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the stand-ins (Spot, Slack) and resolves with the JSON line they print. */
export function startStandins(bin) {
  const child = spawn(bin, [], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("stand-ins did not report ready within 30 s")), 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`stand-ins exited early (${code})`));
    });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      ok({ child, info: JSON.parse(line) });
    });
  });
}

/** A fresh data dir for `flowgate serve` (its SQLite database is `flowgate.db` in it). */
export function newDataDir() {
  return mkdtempSync(join(tmpdir(), "flowgate-e2e-"));
}

/**
 * Starts `flowgate serve` on a free loopback port, with a fresh data dir unless `dataDir` is given,
 * and extra environment `env`; waits for /readyz. `stop({ keepData: true })` leaves the data dir.
 */
export async function startServer(bin, { adminToken, env = {}, dataDir = newDataDir(), port: wanted } = {}) {
  const port = wanted ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const logs = [];
  const child = spawn(bin, ["serve"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      FLOWGATE_LISTEN: `127.0.0.1:${port}`,
      FLOWGATE_DATA_DIR: dataDir,
      FLOWGATE_ADMIN_TOKEN: adminToken,
      FLOWGATE_PUBLIC_URL: base,
      FLOWGATE_LOG_JSON: "false",
      ...env,
    },
  });
  const keep = (d) => {
    logs.push(d.toString());
    if (logs.length > 2000) logs.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`flowgate serve exited (${exited}):\n${logs.join("")}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`flowgate serve not ready within 30 s:\n${logs.join("")}`);
    await sleep(100);
  }
  return {
    child,
    base,
    port,
    logs,
    dataDir,
    stop: async ({ keepData = false } = {}) => {
      await stop(child);
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await done;
  clearTimeout(t);
}

/** Headless Debian Chromium with a fresh profile; no browser download. */
export async function launchBrowser() {
  const userDataDir = mkdtempSync(join(tmpdir(), "flowgate-e2e-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
      ],
      viewport: { width: 1440, height: 900 },
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh artifacts directory per test file (screenshots of its last run only). */
export function ensureArtifacts(name) {
  const dir = join(artifactsDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
