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
const artifacts = ensureArtifacts("seed");
let shotNo = 0;

async function shot(name, { fullPage = false } = {}) {
  shotNo += 1;
  const file = join(artifacts, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
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

/** Selects the first option whose text matches (options may load asynchronously). */
async function selectOptionMatching(select, re) {
  await select.waitFor();
  const value = await waitFor(`an option matching ${re}`, () =>
    select.evaluate((el, src) => {
      const rx = new RegExp(src.source, src.flags);
      const o = [...el.options].find((x) => rx.test(x.textContent));
      return o ? o.value : null;
    }, { source: re.source, flags: re.flags }),
  );
  await select.selectOption(value);
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

    // Canvas-relative centres: three columns right of the palette, three rows.
    const at = { trigger: [380, 110], list: [600, 110], notify: [820, 110], approval: [600, 290], scale: [820, 290], stop: [820, 470] };
    await page.locator(".react-flow__controls-zoomout").click(); // a little more room
    await tid("palette-toggle").click();
    await tid("palette").waitFor();
    // Move the trigger out of the palette's way by dragging it.
    const canvas = await tid("canvas").boundingBox();
    const trig = await center(tid("node-trigger_1"));
    await page.mouse.move(trig.x, trig.y);
    await page.mouse.down();
    await page.mouse.move(canvas.x + at.trigger[0], canvas.y + at.trigger[1], { steps: 10 });
    await page.mouse.up();

    await dragFromPalette("spot.elastigroup_aws", ...at.list);
    await renameSelected("list_elastigroup", "List Elastigroup");
    await dragFromPalette("slack.send_message", ...at.notify);
    await renameSelected("notify");
    await dragFromPalette("slack.approval", ...at.approval);
    await renameSelected("approval_1");
    await dragFromPalette("spot.elastigroup_aws", ...at.scale);
    await renameSelected("scale_down", "Scale Down Elastigroup");
    await dragFromPalette("core.stop", ...at.stop);
    await renameSelected("stop_1");
    await tid("palette-close").click();

    await dragConnect("handle-trigger_1-default", "handle-list_elastigroup-in");
    await dragConnect("handle-list_elastigroup-default", "handle-notify-in");
    await dragConnect("handle-notify-default", "handle-approval_1-in");
    await dragConnect("handle-approval_1-approved", "handle-scale_down-in");
    await dragConnect("handle-approval_1-denied", "handle-stop_1-in");
    await page.locator(".react-flow__edge").nth(4).waitFor();
    assert.equal(await page.locator(".react-flow__edge").count(), 5, "five edges drawn");
    await shot("builder-graph");
  });

  await t.test("configure every step in its form and save", async () => {
    await selectNode("trigger_1");
    await tid("trigger-api-key").selectOption("budget-alerts");

    await selectNode("list_elastigroup");
    await tid("input-integration").selectOption("spot-prod");
    await selectOptionMatching(tid("input-account_id"), /act-29ddd123/); // listed live from Spot
    await selectOptionMatching(tid("input-operation"), /get.elastigroup/i);
    await tid("mode-group_id-expr").click();
    await tid("expr-group_id").fill("{{ trigger_1.output.Elastigroup_Id }}");

    await selectNode("notify");
    await tid("input-integration").selectOption("ops-slack");
    await selectOptionMatching(tid("input-channel"), /C0123ABCD/); // listed live from Slack
    await tid("input-text").fill("Budget threshold reached");

    await selectNode("approval_1");
    await tid("input-integration").selectOption("ops-slack");
    await selectOptionMatching(tid("input-channel"), /C0123ABCD/);
    await tid("input-notes").fill("Scale down {{ list_elastigroup.output.name }} by 2 instances?");
    await tid("input-timeout").fill("4h");

    await selectNode("scale_down");
    await tid("input-integration").selectOption("spot-prod");
    await selectOptionMatching(tid("input-account_id"), /act-29ddd123/);
    await selectOptionMatching(tid("input-operation"), /scale.down/i);
    await tid("mode-group_id-expr").click();
    await tid("expr-group_id").fill("{{ trigger_1.output.Elastigroup_Id }}");
    await tid("input-adjustment").fill("2");
    await shot("builder-configured");

    await tid("save-button").click();
    await page.waitForURL(/#\/workflows\/(?!new)[^/]+$/, { timeout: 10_000 });
    workflowId = decodeURIComponent(new URL(page.url()).hash.split("/").pop());
    await tid("node-trigger_1").waitFor();
    await selectNode("trigger_1");
    webhookUrl = (await tid("webhook-url").textContent()).trim();
    assert.equal(webhookUrl, `${server.base}/webhooks/${workflowId}`);
    await shot("builder-saved-trigger");
  });

  let firstRun;
  await t.test("send an alert and use its body as the trigger's output schema", async () => {
    firstRun = await sendAlert(webhookUrl, alertKey);
    await tid("nav-executions").click();
    await tid(`execution-row-${firstRun}`).waitFor();
    await shot("executions");
    await tid(`execution-row-${firstRun}`).locator("a").first().click();
    await tid("execution-page").waitFor();
    await tid("exec-tab-alert").click();
    assert.match(await tid("alert-body-json").textContent(), /sig-e26f1234/);
    await tid("use-as-output-schema").click();
    await tid("execution-notice").waitFor();
    await shot("alert-body-schema");
    await tid("open-builder").click();
    await tid("node-trigger_1").waitFor();
  });

  await t.test("map group_id and EG-Name with 'set value from a previous step', then save", async () => {
    await selectNode("list_elastigroup");
    await tid("mode-group_id-value").click();
    await tid("mode-group_id-step").click();
    const groupPicker = tid("ref-picker-group_id");
    await groupPicker.getByTestId("ref-step").selectOption("trigger_1");
    await groupPicker.getByTestId("ref-key-.Elastigroup_Id").click();
    assert.equal((await groupPicker.getByTestId("ref-current").textContent()).trim(), "{{ trigger_1.output.Elastigroup_Id }}");

    await selectNode("notify");
    await tid("input-text").fill("Budget threshold reached for {{EG-Name}}");
    await tid("map-new-key-variables").fill("EG-Name");
    await tid("map-add-variables").click();
    await tid("mode-variables.EG-Name-step").click();
    const picker = tid("ref-picker-variables.EG-Name");
    await picker.getByTestId("ref-step").selectOption("list_elastigroup");
    await picker.getByTestId("ref-key-.name").click();
    assert.equal((await picker.getByTestId("ref-current").textContent()).trim(), "{{ list_elastigroup.output.name }}");
    await shot("ref-picker");

    await tid("save-button").click();
    await tid("save-notice").waitFor();
    assert.match(await tid("save-notice").textContent(), /Saved as version \d+/);
    const wf = await apiGet(`/api/v1/workflows/${encodeURIComponent(workflowId)}`);
    const notify = wf.document.nodes.find((n) => n.id === "notify");
    assert.deepEqual(notify.params.variables, { "EG-Name": "{{ list_elastigroup.output.name }}" });
    const list = wf.document.nodes.find((n) => n.id === "list_elastigroup");
    assert.equal(list.params.group_id, "{{ trigger_1.output.Elastigroup_Id }}");
    const trigger = wf.document.nodes.find((n) => n.id === "trigger_1");
    assert.ok(trigger.params.output_schema?.properties?.Elastigroup_Id, "the trigger keeps its output schema");
    await tid("open-code").click();
    await tid("code-view").waitFor();
    await shot("builder-code");
  });

  await t.test("deny the first run's approval in the console: it stops", async () => {
    await tid("nav-approvals").click();
    const first = await waitFor("the first run's approval", async () =>
      (await apiGet("/api/v1/approvals?status=pending")).items.find((a) => a.execution_id === firstRun),
    );
    await tid(`approval-${first.id}`).waitFor();
    await tid(`approval-${first.id}`).getByTestId("deny").click();
    await tid(`approval-${first.id}`).waitFor({ state: "detached" });
    await waitFor("the first run to stop", async () => (await apiGet(`/api/v1/executions/${firstRun}`)).status === "stopped");
  });

  let secondRun;
  await t.test("send the alert again and approve in the console", async () => {
    secondRun = await sendAlert(webhookUrl, alertKey);
    const approval = await waitFor("the second run's approval", async () =>
      (await apiGet("/api/v1/approvals?status=pending")).items.find((a) => a.execution_id === secondRun),
    );
    await page.reload();
    await tid(`approval-${approval.id}`).waitFor();
    assert.match(await tid(`approval-${approval.id}`).getByTestId("approval-notes").textContent(), /Scale down web-prod by 2 instances\?/);
    await shot("approvals");
    await tid(`approval-${approval.id}`).getByTestId("approve").click();
    await tid(`approval-${approval.id}`).waitFor({ state: "detached" });
  });

  await t.test("the execution succeeds; each step shows its input and output", async () => {
    await waitFor("the second run to succeed", async () => {
      const x = await apiGet(`/api/v1/executions/${secondRun}`);
      assert.ok(!["failed", "stopped", "cancelled", "timed_out"].includes(x.status), `run ended ${x.status}: ${JSON.stringify(x.error)}`);
      return x.status === "succeeded";
    });
    await page.goto(`${server.base}/#/executions/${secondRun}`);
    await page.locator('[data-testid="execution-page"][data-status="succeeded"]').waitFor();
    for (const id of ["trigger_1", "list_elastigroup", "notify", "approval_1", "scale_down"]) {
      const step = tid(`step-${id}`);
      if (!(await step.count())) continue;
      assert.equal(await step.getAttribute("data-status"), "succeeded", `${id} succeeded`);
    }
    for (const id of ["list_elastigroup", "notify", "approval_1", "scale_down"]) await tid(`step-${id}`).waitFor();
    assert.equal(await tid("step-stop_1").getAttribute("data-status"), "skipped", "the denied branch did not run");
    assert.match(await tid("decision-approval_1").textContent(), /approved by bootstrap/);
    await shot("execution-succeeded");

    const expectIO = async (id, input, output) => {
      if (!(await tid(`step-${id}-tab-input`).isVisible())) await tid(`step-toggle-${id}`).click();
      await tid(`step-${id}-tab-input`).click();
      assert.match(await tid(`step-${id}-input`).textContent(), input, `${id} input`);
      await tid(`step-${id}-tab-output`).click();
      assert.match(await tid(`step-${id}-output`).textContent(), output, `${id} output`);
    };
    await expectIO("list_elastigroup", /sig-e26f1234/, /web-prod/);
    await expectIO("notify", /Budget threshold reached for web-prod/, /C0123ABCD/);
    await expectIO("approval_1", /Scale down web-prod by 2 instances\?/, /approve/);
    await expectIO("scale_down", /"adjustment": 2/, /victimSpotRequests/);
    await shot("execution-steps-io", { fullPage: true });

    // The Spot stand-in really scaled the group down from 4 to 2.
    const r = await fetch(`${spot.base_url}/aws/ec2/group/${spot.group_id}?accountId=${spot.account_id}`, {
      headers: { authorization: `Bearer ${spot.token}` },
    });
    const group = (await r.json()).response.items[0];
    assert.equal(group.capacity.target, 2);
  });

  await t.test("sign out", async () => {
    await tid("sign-out").click();
    await tid("signin-token").waitFor();
    await page.reload();
    await tid("signin-token").waitFor();
  });
});

test("no errors in the browser console", () => {
  assert.deepEqual(consoleErrors, []);
});
