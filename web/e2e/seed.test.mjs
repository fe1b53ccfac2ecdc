// End-to-end test of the console in headless Chromium: builds and runs the seed workflow of spec §1
// against a real `flowgate serve` with the Spot and Slack stand-ins.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { binaries, ensureArtifacts, launchBrowser, startServer, startStandins, stop } from "./env.mjs";

const ADMIN_TOKEN = "fg-e2e-admin-token-0123456789abcdef";
const ALERT = {
  Organization_Name: "SpotOrgname",
  Account_Name: "SpotAccountname",
  Account_ID: "act-29ddd123",
  MTD_Spend: "3.8",
  Budget: "4.0",
  Elastigroup_Id: "sig-e26f1234",
};

let standins;
let server;
let browser;
let page;
const consoleErrors = [];
const artifacts = ensureArtifacts();
let shotNo = 0;

async function shot(name) {
  shotNo += 1;
  const file = join(artifacts, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

const tid = (id) => page.getByTestId(id);

/** The management API, as the test itself (not through the console). */
async function apiGet(path) {
  const r = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200, `GET ${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

async function waitFor(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sendAlert(webhookUrl, key) {
  const r = await fetch(webhookUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify(ALERT),
  });
  const text = await r.text();
  assert.equal(r.status, 202, `webhook answered ${r.status}: ${text}`);
  return JSON.parse(text).execution_id;
}

async function center(locator) {
  await locator.scrollIntoViewIfNeeded();
  const b = await locator.boundingBox();
  assert.ok(b, "element has a box");
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Drags a palette entry onto the canvas at (x, y) relative to the canvas' top-left corner. */
async function dragFromPalette(type, x, y) {
  if (!(await tid("palette").isVisible())) await tid("palette-toggle").click();
  const from = await center(tid(`palette-${type}`));
  const canvas = await tid("canvas").boundingBox();
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + 10, from.y + 10, { steps: 2 });
  await page.mouse.move(canvas.x + x, canvas.y + y, { steps: 10 });
  await page.mouse.up();
}

/** Connects two handles by dragging from one to the other. */
async function dragConnect(fromTestId, toTestId) {
  const a = await center(tid(fromTestId));
  const b = await center(tid(toTestId));
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 8 });
  await page.mouse.move(b.x, b.y, { steps: 8 });
  await page.mouse.up();
}

/** Renames the selected node's step id. */
async function renameSelected(newId, name) {
  const idInput = tid("node-id-input");
  await idInput.fill(newId);
  await idInput.press("Enter");
  await tid(`node-${newId}`).waitFor();
  if (name) await tid("node-name-input").fill(name);
}

async function selectNode(id) {
  await tid(`node-${id}`).click({ position: { x: 60, y: 30 } });
  await page.locator(`[data-testid="config-panel"][data-node="${id}"]`).waitFor();
}

before(async () => {
  const bins = binaries();
  standins = await startStandins(bins.env);
  server = await startServer(bins.flowgate, { adminToken: ADMIN_TOKEN });
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  page = await browser.context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) consoleErrors.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await stop(standins?.child);
});

test("the seed workflow of spec §1, built and run in the console", async (outer) => {
  // Steps run in order; once one fails the rest are skipped (they depend on it).
  let broken = false;
  const t = {
    test: (name, fn) =>
      outer.test(name, { skip: broken && "an earlier step failed" }, async (c) => {
        try {
          await fn(c);
        } catch (e) {
          broken = true;
          await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`).catch(() => {});
          throw e;
        }
      }),
  };
  const spot = standins.info.spot;
  const slack = standins.info.slack;
  let alertKey;
  let workflowId;
  let webhookUrl;

  await t.test("sign in with the admin token", async () => {
    await page.goto(server.base + "/");
    await tid("signin-token").fill(ADMIN_TOKEN);
    await shot("signin");
    await tid("signin-submit").click();
    await tid("sign-out").waitFor();
    await tid("workflows-page").waitFor();
    await tid("workflows-empty").waitFor();
    await shot("workflows-empty");
  });

  await t.test("create an API key (shown once) and delete another", async () => {
    await tid("nav-api-keys").click();
    await tid("api-keys-page").waitFor();
    for (const name of ["budget-alerts", "throwaway"]) {
      await tid("api-key-name").fill(name);
      await tid("create-api-key").click();
      await tid(`api-key-row-${name}`).waitFor();
      if (name === "budget-alerts") {
        alertKey = (await tid("api-key-value").textContent()).trim();
        assert.ok(alertKey.length >= 16, "the key value is shown");
        await tid("copy-api-key").click();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), alertKey, "copied to the clipboard");
        await shot("api-key-created");
        await tid("api-key-done").click();
        await tid("api-key-value").waitFor({ state: "detached" });
      }
    }
    await tid("delete-api-key-throwaway").click();
    await tid("delete-api-key-throwaway-confirm").click();
    await tid("api-key-row-throwaway").waitFor({ state: "detached" });
    const keys = await apiGet("/api/v1/api-keys");
    assert.deepEqual(keys.items.map((k) => k.name), ["budget-alerts"]);
  });

  await t.test("add a Spot integration (accounts shown) and a Slack one by pasting a token", async () => {
    await tid("nav-integrations").click();
    await tid("integrations-page").waitFor();
    await tid("add-spot").click();
    await tid("spot-alias").fill("spot-prod");
    await tid("spot-token").fill(spot.token);
    await tid("spot-base-url").fill(spot.base_url);
    await tid("integration-submit").click();
    await tid("spot-accounts").waitFor();
    assert.match(await tid("spot-accounts").textContent(), /act-29ddd123/);
    await shot("spot-verified");
    await tid("integration-done").click();

    await tid("add-slack").click();
    await tid("slack-mode-paste").click();
    await tid("slack-alias").fill("ops-slack");
    await tid("slack-bot-token").fill(slack.bot_token);
    await tid("slack-signing-secret").fill(slack.signing_secret);
    await tid("slack-base-url").fill(slack.api_url);
    await tid("integration-submit").click();
    await tid("slack-added").waitFor();
    await tid("integration-row-ops-slack").waitFor();
    await tid("integration-row-spot-prod").waitFor();
    await shot("integrations");
  });

  await t.test("create a Generic Webhook workflow and build the graph by dragging", async () => {
    await tid("nav-workflows").click();
    await tid("new-workflow").click();
    await tid("wf-name").fill("Budget scale-down");
    await tid("wf-description").fill("Scale an Elastigroup down when its budget threshold is reached, after approval");
    await tid("trigger-trigger.webhook").click();
    await shot("new-workflow");
    await tid("create-workflow").click();
    await tid("builder").waitFor();
    await tid("node-trigger_1").waitFor();

    const box = await tid("canvas").boundingBox();
    const col = (i) => 40 + i * ((box.width - 120) / 4);
    await dragFromPalette("spot.elastigroup_aws", col(1) + 60, box.height * 0.25);
    await renameSelected("list_elastigroup", "List Elastigroup");
    await dragFromPalette("slack.send_message", col(2) + 60, box.height * 0.25);
    await renameSelected("notify");
    await dragFromPalette("slack.approval", col(2) + 60, box.height * 0.6);
    await renameSelected("approval_1");
    await dragFromPalette("spot.elastigroup_aws", col(3) + 60, box.height * 0.45);
    await renameSelected("scale_down", "Scale Down Elastigroup");
    await dragFromPalette("core.stop", col(3) + 60, box.height * 0.8);
    await renameSelected("stop_1");
    await shot("builder-nodes");
  });
});

test("no errors in the browser console", () => {
  assert.deepEqual(consoleErrors, []);
});
