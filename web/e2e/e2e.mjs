// The demo app in a real browser (Debian's chromium, driven by
// playwright-core) against a real `folio dev` stack: Postgres, versitygw,
// the API and the worker. Run by `make e2e` (scripts/e2e.sh), which builds
// what it needs and installs chromium and poppler-utils when missing.
//
// Screenshots of each state go to $E2E_ARTIFACTS (default artifacts/e2e).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const artifacts = resolve(process.env.E2E_ARTIFACTS ?? join(root, "artifacts/e2e"));
const port = Number(process.env.E2E_PORT ?? 18080);
const base = `http://127.0.0.1:${port}`;
const adminBase = `http://127.0.0.1:${port + 2}`;
const adminToken = `e2e-admin-${Date.now()}-0123456789abcdef0123456789`;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const T = { stack: 180_000, parse: 120_000, ui: 15_000 };
// E2E_ONLY (a regular expression) runs the steps whose names match, after
// signing in: for working on one step.
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });

// ---- inputs: real PDFs nobody here wrote, a large generated one, a PNG named .pdf
const pdfcpuDir = JSON.parse(execFileSync("go", ["mod", "download", "-json", "github.com/pdfcpu/pdfcpu@v0.15.0"], { cwd: root }).toString()).Dir;
const testdata = (name) => join(pdfcpuDir, "pkg/testdata", name);
const small = ["TheGoProgrammingLanguageCh1.pdf", "BuildingWebappsWithGo.pdf", "Walden.pdf"].map(testdata);
const large = join(artifacts, "long-1200-pages.pdf");
execFileSync("sh", ["-c", `go run ./internal/pdftest/cmd/longpdf -pages 1200 -lines 90 -title "Large e2e document" > "${large}"`], { cwd: root });
// A scan of Walden.pdf (image-only pages): its text can only come from OCR.
const scanned = join(artifacts, "walden-scan.pdf");
execFileSync("sh", ["-c", `go run ./internal/pdftest/cmd/scanpdf -dpi 300 "${testdata("Walden.pdf")}" > "${scanned}"`], { cwd: root });
// Uploads interrupted on purpose (a dropped network, a reload): files on
// disk, so that choosing one again is the same file (name, size, mtime).
const resumable = join(artifacts, "resume-me.pdf");
execFileSync("sh", ["-c", `go run ./internal/pdftest/cmd/longpdf -pages 1500 -lines 90 -title "Resumed upload" > "${resumable}"`], { cwd: root });
const pausable = join(artifacts, "pause-me.pdf");
execFileSync("sh", ["-c", `go run ./internal/pdftest/cmd/longpdf -pages 1000 -lines 90 -title "Paused upload" > "${pausable}"`], { cwd: root });
const direct = join(artifacts, "straight-to-s3.pdf");
execFileSync("sh", ["-c", `go run ./internal/pdftest/cmd/longpdf -pages 1200 -lines 90 -title "Direct upload" > "${direct}"`], { cwd: root });
const viaUppy = join(artifacts, "via-uppy-tus.pdf"); // a name of its own: the list shows each once
writeFileSync(viaUppy, readFileSync(small[0]));
const fakePDF = join(artifacts, "photo.pdf");
const brokenPDF = join(artifacts, "cut-short.pdf"); // starts like a PDF, ends after 4 KiB
// A real PNG (1×1, from its bytes) under a .pdf name.
const png = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082",
  "hex",
);
writeFileSync(fakePDF, png);
writeFileSync(brokenPDF, readFileSync(small[0]).subarray(0, 4096));
const pdfinfoPages = (file) => Number(/^Pages:\s+(\d+)/m.exec(execFileSync("pdfinfo", [file]).toString())[1]);
const expectedPages = new Map([...small, large].map((f) => [f.split("/").pop(), pdfinfoPages(f)]));

// ---- the stack
const stateDir = join(root, ".folio/e2e-state");
rmSync(stateDir, { recursive: true, force: true });
const log = createWriteStream(join(artifacts, "folio-dev.log"));
const folio = spawn(
  join(root, "bin/folio"),
  ["dev", "--dir", stateDir, "--pg-port", String(port + 1000), "--s3-port", String(port + 1001), "--web", join(root, "web/demo/dist")],
  {
    cwd: root,
    env: {
      ...process.env,
      FOLIO_HTTP_ADDR: `127.0.0.1:${port}`,
      FOLIO_HEALTH_ADDR: `127.0.0.1:${port + 1}`,
      FOLIO_ADMIN_ADDR: `127.0.0.1:${port + 2}`,
      FOLIO_ADMIN_TOKEN: adminToken,
      FOLIO_LOG_FORMAT: "text",
      FOLIO_WORKER_CONCURRENCY: "2",
      // A small window, so that the rate-limit step waits seconds, not a minute.
      FOLIO_UPLOAD_RATE_LIMIT: "10",
      FOLIO_UPLOAD_RATE_WINDOW: "10s",
      DATABASE_URL: "",
      AWS_ENDPOINT_URL_S3: "",
      FOLIO_AUTH_JWT_SECRET: "",
      FOLIO_AUTH_JWKS_URL: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  },
);
folio.stdout.pipe(log);
folio.stderr.pipe(log);
const exited = new Promise((r) => folio.on("exit", (code, signal) => r({ code, signal })));

let browser;
let failed = false;
const pageErrors = [];
try {
  await waitFor("the stack to be ready", T.stack, async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(T.ui);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // Intercept file choosers from the start: enabling it is asynchronous, and
  // a chooser opened before it is on would be a native dialog, not an event.
  page.on("filechooser", () => undefined);
  let networkDrops = false; // set while a step cuts the network on purpose
  page.on("console", (m) => {
    // The browser logs every 4xx; the PNG's 415 and the rate limit's 429s are ones this test asks for.
    if (m.type() !== "error" || /^Failed to load resource: .* (415|429) /.test(m.text())) return;
    if (networkDrops && /ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|net::ERR_/.test(m.text())) return;
    pageErrors.push(m.text());
  });
  // Accessibility: axe-core's rules (WCAG 2.1 A/AA) on the page as it is; any serious or critical violation fails.
  const axeSource = readFileSync(join(root, "web/node_modules/axe-core/axe.min.js"), "utf8");
  const a11y = async (where) => {
    if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
    const found = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] });
      return r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    });
    assert.deepEqual(found, [], `accessibility of ${where}`);
  };
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const row = (name) => page.locator(`[data-testid=doc-row][data-filename="${name}"]`);

  const user = `e2e-${Date.now()}`;
  await step("sign in as a new dev user", async () => {
    await page.goto(base);
    await page.getByLabel("Your name").waitFor();
    await shot("01-sign-in");
    await a11y("the sign-in page");
    await page.getByLabel("Your name").fill(user);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("No documents yet").waitFor();
    await page.locator("[data-testid=connection][data-state=open][data-transport=websocket]").waitFor();
    await shot("02-signed-in");
  });

  await step("drop three PDFs: each uploads, parses to done, page counts equal pdfinfo's", async () => {
    await drop(page, small);
    await page.locator("[data-testid=upload]").first().waitFor();
    await shot("03-uploading");
    for (const f of small) {
      const name = f.split("/").pop();
      await page.locator(`[data-testid=upload][data-filename="${name}"][data-state=done]`).waitFor({ timeout: T.parse });
      await row(name).and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
      assert.equal(Number(await row(name).getAttribute("data-pages-total")), expectedPages.get(name), `${name}: pages`);
    }
    await shot("04-three-done");
  });

  await step("a done document shows its page count, metadata, outline and a page's text", async () => {
    await row("TheGoProgrammingLanguageCh1.pdf").getByRole("button").click();
    const detail = page.locator("[data-testid=detail][data-status=done]");
    await detail.waitFor();
    await detail.getByText("The Go Programming Language").first().waitFor();
    assert.match(await detail.locator("[data-testid=facts]").innerText(), /Pages\s+59/);
    await detail.getByText("Outline").waitFor();
    const text = detail.locator("[data-testid=page-text]");
    await waitFor("page 1's text", T.ui, async () => (await text.innerText()).length > 20 && !(await text.innerText()).startsWith("Loading"));
    await detail.getByRole("button", { name: /1\.1\. Hello, World/ }).click(); // an outline entry opens its page
    await page.getByLabel("Text of page 20").waitFor();
    await waitFor("page 20's text", T.ui, async () => /Hello, World/.test(await text.innerText()));
    await detail.getByLabel("Page", { exact: true }).fill("21");
    await detail.getByLabel("Page", { exact: true }).press("Enter");
    await page.getByLabel("Text of page 21").waitFor();
    await shot("05-detail");
    await a11y("the list with a document's details");
  });

  await step("the thumbnail strip and the page viewer show the pages as images; arrow keys turn pages", async () => {
    const detail = page.locator("[data-testid=detail][data-status=done]");
    const strip = detail.locator("[data-testid=thumbnails]");
    await strip.locator("img[data-state=loaded]").first().waitFor();
    // Lazy: only the thumbnails near the strip's visible part load.
    const loaded = await strip.locator("img[data-state=loaded]").count();
    assert.ok(loaded >= 3 && loaded < 59, `thumbnails loaded: ${loaded} of 59`);
    assert.equal(await strip.locator("img").first().evaluate((img) => img.naturalWidth), 256, "a thumbnail is the 256-pixel image");
    assert.equal(await row("TheGoProgrammingLanguageCh1.pdf").locator(".doc-thumb img[data-state=loaded]").count(), 1, "the list shows the first page");
    const view = detail.locator("[data-testid=page-view]");
    const image = (n) => view.locator(`img[alt="Page ${n}"][data-state=loaded]`);
    await image(21).waitFor();
    // 320 CSS pixels on a 1× screen: the 512-pixel image, rendered on demand.
    assert.equal(await image(21).evaluate((img) => img.naturalWidth), 512);
    await shot("05b-page-viewer");
    await view.focus();
    await page.keyboard.press("ArrowRight");
    await page.getByLabel("Text of page 22").waitFor();
    await image(22).waitFor();
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await page.getByLabel("Text of page 20").waitFor();
    await strip.getByRole("button", { name: "Page 3", exact: true }).click();
    await page.getByLabel("Text of page 3").waitFor();
    await image(3).waitFor();
    assert.equal(await strip.getByRole("button", { name: "Page 3", exact: true }).getAttribute("aria-current"), "page");
    await shot("05c-thumbnails");
    await a11y("the thumbnail strip and page viewer");
  });

  await step("search finds words in the parsed text", async () => {
    await page.getByLabel("Search your documents").fill("Walden");
    await page.getByLabel("Search your documents").press("Enter");
    await page.locator("ol.hits mark").first().waitFor();
    await shot("06-search");
    await a11y("search results");
  });

  await step("a scanned PDF is read by OCR: its pages say so, and search finds their words", async () => {
    await drop(page, [scanned]);
    await row("walden-scan.pdf").and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
    await row("walden-scan.pdf").getByRole("button").click();
    const detail = page.locator("[data-testid=detail][data-status=done]");
    await detail.locator("[data-testid=ocr-status][data-ocr=done]").waitFor({ timeout: T.parse });
    await detail.getByLabel("Page", { exact: true }).fill("2");
    await detail.getByLabel("Page", { exact: true }).press("Enter");
    await page.getByLabel("Text of page 2").waitFor();
    const text = detail.locator("[data-testid=page-text]");
    await waitFor("page 2's OCR text", T.ui, async () => /delicious evening/.test(await text.innerText()));
    await detail.locator("[data-testid=page-source][data-source=ocr]").waitFor();
    assert.match(await detail.locator("[data-testid=page-source]").innerText(), /Read by OCR \(mean confidence \d+%\)/);
    await shot("06b-ocr");
    await a11y("a scanned document's page read by OCR");
    await page.getByLabel("Search your documents").fill("bullfrogs");
    await page.getByLabel("Search your documents").press("Enter");
    await page.locator("ol.hits", { hasText: "walden-scan.pdf" }).waitFor({ timeout: T.ui });
  });

  await step("upload a large PDF with the keyboard; reload mid-parse; progress continues without going back", async () => {
    const name = "long-1200-pages.pdf";
    // A slower uplink (6 MB/s), so the upload's own progress bar shows.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 6 << 20 });
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Choose PDFs…" }).focus();
    await page.keyboard.press("Enter");
    await (await chooser).setFiles(large);
    const up = page.locator(`[data-testid=upload][data-filename="${name}"]`);
    await waitFor("the upload half-way", T.parse, async () => {
      const p = Number((await up.getAttribute("data-progress").catch(() => null)) ?? 0);
      return p > 0.3 && p < 0.9;
    }, 50);
    await shot("07-large-uploading");
    await up.and(page.locator("[data-state=done]")).waitFor({ timeout: T.parse });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const r = row(name);
    await waitFor("the large PDF to be parsing", T.parse, async () => Number((await r.getAttribute("data-pages-done").catch(() => null)) ?? 0) > 0);
    const before = Number(await r.getAttribute("data-pages-done"));
    const total = Number(await r.getAttribute("data-pages-total"));
    assert.equal(total, expectedPages.get(name));
    await shot("08-large-parsing");

    await page.reload();
    const seen = [];
    let drawing = null; // the detail opened while the thumbnails were being drawn
    await waitFor("the large PDF to be done after the reload", T.parse, async () => {
      const status = await r.getAttribute("data-status").catch(() => null);
      const done = await r.getAttribute("data-pages-done").catch(() => null);
      if (status === null || done === null) return false;
      seen.push({ status, done: Number(done) });
      if (seen.length === 3) await shot("09-large-after-reload");
      if (!drawing && status === "parsing" && (await r.getAttribute("data-stage")) === "rendering") {
        // Thumbnails appear as the parse draws them, before it is done.
        await r.getByRole("button").click();
        const strip = page.locator("[data-testid=detail] [data-testid=thumbnails]");
        await strip.locator("img[data-state=loaded]").first().waitFor();
        drawing = { status: await r.getAttribute("data-status"), rendered: Number(await r.getAttribute("data-pages-rendered")) };
        await shot("09b-thumbnails-while-drawing");
      }
      return status === "done";
    }, 100);
    assert.ok(drawing, "the rendering stage was seen");
    assert.equal(drawing.status, "parsing", "thumbnails showed while the parse was still drawing them");
    assert.ok(drawing.rendered > 0 && drawing.rendered < total, `pages drawn then: ${drawing.rendered} of ${total}`);
    const mid = seen.filter((s) => s.status === "parsing");
    assert.ok(mid.length > 0, `the reloaded page saw the parse in progress (seen: ${JSON.stringify(seen.slice(0, 5))}…)`);
    assert.ok(seen[0].done >= before, `after the reload, pages done ${seen[0].done} ≥ ${before} before it`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].done >= seen[i - 1].done, `progress went back: ${seen[i - 1].done} → ${seen[i].done}`);
    assert.equal(seen.at(-1).done, total);
    console.log(`    ${before}/${total} pages before the reload; ${mid.length} in-progress observations after it, first at ${mid[0].done}; thumbnails showing at ${drawing.rendered} drawn`);
    await shot("10-large-done");
  });

  await step("an upload goes on after the network drops and after a reload, from where it stopped (tus)", async () => {
    const name = "resume-me.pdf";
    const size = readFileSync(resumable).length;
    const chunk = 8 << 20; // the demo's request size
    const choose = async () => {
      const chooser = page.waitForEvent("filechooser");
      await page.getByRole("button", { name: "Choose PDFs…" }).click();
      await (await chooser).setFiles(resumable);
    };
    // The network drops as the second request starts (the browser's
    // request fails with a network error), and the third request is held
    // until the page is reloaded under it.
    const patches = [];
    let held = null;
    const uploads = "**/v1/uploads/*";
    await page.route(uploads, async (route) => {
      const req = route.request();
      if (req.method() !== "PATCH") return route.continue();
      const offset = Number(req.headers()["upload-offset"]);
      patches.push(offset);
      if (offset === chunk && patches.filter((o) => o === chunk).length === 1) return route.abort("internetdisconnected");
      if (offset === 2 * chunk && !held) {
        held = route; // never answered: the reload cuts it
        return;
      }
      return route.continue();
    });
    networkDrops = true;
    await choose();
    const up = page.locator(`[data-testid=upload][data-filename="${name}"]`).first();
    await waitFor("the upload to go on after the drop", T.parse, async () => Number((await up.getAttribute("data-resumed-from")) || 0) > 0, 50);
    const afterDrop = Number(await up.getAttribute("data-resumed-from"));
    assert.equal(afterDrop, chunk, "after the drop it went on from what the server held");
    await waitFor("the third request to start", T.parse, async () => held !== null, 50);
    await shot("10b-resumed-after-drop");
    // A reload mid-upload: the page lists the upload as not finished;
    // choosing the same file goes on from what the server holds.
    await page.reload();
    await page.unroute(uploads);
    networkDrops = false;
    const listed = page.locator(`[data-testid=interrupted-upload][data-filename="${name}"]`);
    await listed.waitFor();
    await shot("10c-interrupted-after-reload");
    await choose();
    const again = page.locator(`[data-testid=upload][data-filename="${name}"]`).first();
    await waitFor("the upload to resume after the reload", T.parse, async () => Number((await again.getAttribute("data-resumed-from")) || 0) > 0, 50);
    const afterReload = Number(await again.getAttribute("data-resumed-from"));
    assert.equal(afterReload, 2 * chunk, `after the reload it went on from ${afterReload} of ${size} bytes, not from 0`);
    await again.and(page.locator("[data-state=done]")).waitFor({ timeout: T.parse });
    await listed.waitFor({ state: "detached" });
    await row(name).and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
    console.log(`    requests at offsets ${patches.join(", ")}; resumed at ${afterDrop} after the drop, at ${afterReload} of ${size} after the reload`);
    await shot("10d-resumed-upload-done");
  });

  await step("an upload paused mid-way resumes from what the server holds", async () => {
    const name = "pause-me.pdf";
    const chunk = 8 << 20;
    // The second request is held, so that the upload is mid-way when paused.
    let held = false;
    const uploads = "**/v1/uploads/*";
    await page.route(uploads, (route) => {
      const req = route.request();
      if (req.method() === "PATCH" && Number(req.headers()["upload-offset"]) === chunk && !held) {
        held = true;
        return; // never answered: the pause cuts it
      }
      return route.continue();
    });
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Choose PDFs…" }).click();
    await (await chooser).setFiles(pausable);
    const up = page.locator(`[data-testid=upload][data-filename="${name}"]`).first();
    await waitFor("the second request to start", T.parse, async () => held, 50);
    await page.getByRole("button", { name: `Pause ${name}` }).click();
    await up.and(page.locator("[data-state=paused]")).waitFor();
    await shot("10e-paused");
    await page.unroute(uploads);
    await page.getByRole("button", { name: `Resume ${name}` }).click();
    await waitFor("the upload to resume", T.parse, async () => Number((await up.getAttribute("data-resumed-from")) || 0) === chunk, 50);
    await up.and(page.locator("[data-state=done]")).waitFor({ timeout: T.parse });
    await row(name).and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
  });

  await step("a stock Uppy Dashboard uploads through tus and straight to S3; the direct upload resumes after a reload", async () => {
    await page.goto(`${base}/#/uppy`);
    const uppy = page.getByTestId("uppy-page");
    await uppy.waitFor();
    const addAndUpload = async (file) => {
      await page.locator(".uppy-Dashboard-input").first().setInputFiles(file);
      await page.locator(".uppy-StatusBar-actionBtn--upload").click();
    };
    // tus, through the API.
    await addAndUpload(viaUppy);
    const viaTus = page.getByTestId("uppy-done").first();
    await viaTus.waitFor({ timeout: T.parse });
    const tusDoc = await viaTus.getAttribute("data-document-id");
    await shot("10f-uppy-tus");

    // Straight to S3: Folio signs each multipart request, then checks and
    // finalizes the object into a document.
    await uppy.getByLabel(/straight to S3/).check();
    await page.locator("[data-testid=uppy-page][data-mode=s3]").waitFor();
    const parts = []; // part numbers S3 accepted, in order
    const onPart = (res) => {
      const m = /[?&]partNumber=(\d+)/.exec(res.url());
      if (m && res.request().method() === "PUT" && res.status() === 200) parts.push(Number(m[1]));
    };
    page.on("response", onPart);
    // Part 2 is held until the page is reloaded under it.
    let held = false;
    const partTwo = /[?&]partNumber=2(&|$)/;
    await page.route(partTwo, (route) => {
      held = true; // never answered: the reload cuts it
    });
    networkDrops = true;
    await addAndUpload(direct);
    await waitFor("part 1 in S3 and part 2 under way", T.parse, async () => parts.includes(1) && held, 50);
    // Golden Retriever saves Uppy's state at most every 500 ms: wait until
    // the multipart upload's id is in its IndexedDB store, as a user
    // reloading a second later would find it.
    await waitFor("Golden Retriever to keep the upload's state", T.ui, () =>
      page.evaluate(
        () =>
          new Promise((resolve) => {
            const open = indexedDB.open("uppy-blobs");
            open.onerror = () => resolve(false);
            open.onsuccess = () => {
              const db = open.result;
              if (!db.objectStoreNames.contains("metadata")) return resolve(false);
              const all = db.transaction(["metadata"]).objectStore("metadata").getAll();
              all.onsuccess = () => resolve(all.result.some((r) => String(r.metadata).includes("s3Multipart")));
              all.onerror = () => resolve(false);
            };
          }),
      ),
    );
    const before = [...parts];
    // Reload mid-upload: Golden Retriever brings the file back; the upload
    // lists the parts S3 has (signed by Folio) and sends only the rest.
    await page.reload();
    await page.unroute(partTwo);
    await uppy.waitFor();
    await page.locator("[data-testid=uppy-page][data-mode=s3]").waitFor();
    // Golden Retriever keeps the upload's state; a file this large is not
    // kept in IndexedDB, so Uppy shows it as a ghost and asks for it again:
    // choosing the same file resumes the upload.
    await shot("10g-uppy-restored-after-reload");
    await page.locator(".uppy-DashboardContent-addMore").click();
    await page.locator(".uppy-Dashboard-input").first().setInputFiles(direct);
    await page.locator(".uppy-StatusBar-actionBtn--upload:not([disabled])").click();
    const viaS3 = page.getByTestId("uppy-done").first();
    await viaS3.waitFor({ timeout: T.parse });
    networkDrops = false;
    page.off("response", onPart);
    const after = parts.slice(before.length);
    for (const n of before) assert.ok(!after.includes(n), `part ${n} was sent again after the reload (before: ${before}, after: ${after})`);
    const s3Doc = await viaS3.getAttribute("data-document-id");
    await shot("10h-uppy-s3-done");
    // Both are documents, parsed like any other.
    await page.goto(`${base}/#/`);
    for (const [name, id] of [["via-uppy-tus.pdf", tusDoc], ["straight-to-s3.pdf", s3Doc]]) {
      assert.ok(id, `${name}: a document id`);
      await page.locator(`[data-testid=doc-row][data-filename="${name}"][data-status=done]`).first().waitFor({ timeout: T.parse });
    }
    console.log(`    direct upload: parts ${before} before the reload, ${after} after it`);
  });

  await step("a PNG renamed .pdf is refused with the 415 reason", async () => {
    await drop(page, [fakePDF]);
    const err = page.locator('[data-testid=upload][data-filename="photo.pdf"] [data-testid=upload-error]');
    await err.waitFor();
    assert.equal(await err.getAttribute("data-code"), "not_pdf");
    const text = await err.innerText();
    assert.match(text, /not a PDF/);
    assert.match(text, /415/);
    assert.equal(await row("photo.pdf").count(), 0, "nothing was recorded");
    await shot("11-not-pdf");
    await a11y("an upload error");
  });

  await step("a PDF cut short is uploaded, then fails with its reason in plain words", async () => {
    await drop(page, [brokenPDF]);
    const r = row("cut-short.pdf");
    await r.and(page.locator("[data-status=failed]")).waitFor({ timeout: T.parse });
    const reason = r.getByTestId("failure");
    assert.equal(await reason.getAttribute("data-code"), "malformed");
    assert.match(await reason.innerText(), /damaged/);
    await shot("12-failed");
    // Delete it from its details (after the browser's confirm): the list drops it live.
    await r.getByRole("button").click();
    page.once("dialog", (d) => d.accept());
    await page.getByTestId("detail").getByRole("button", { name: "Delete" }).click();
    await waitFor("the deleted document to leave the list", T.ui, async () => (await r.count()) === 0);
  });

  await step("the admin UI (River UI, behind sign-in) lists a failed parse, retries it, pauses and resumes the parse queue", async () => {
    const failing = join(artifacts, "admin-cut-short.pdf");
    writeFileSync(failing, readFileSync(small[1]).subarray(0, 4096));
    await drop(page, [failing]);
    await row("admin-cut-short.pdf").and(page.locator("[data-status=failed]")).waitFor({ timeout: T.parse });

    const riverAPI = async (path) => {
      const res = await fetch(`${adminBase}/admin/river/api${path}`, { headers: { Authorization: `Bearer ${adminToken}` } });
      assert.equal(res.status, 200, `GET ${path}`);
      return res.json();
    };
    const admin = await page.context().newPage();
    admin.on("pageerror", (e) => pageErrors.push(String(e)));
    await admin.goto(`${adminBase}/admin/river/`);
    assert.match(admin.url(), /\/admin\/login/, "no admin credentials: the sign-in page");
    await admin.screenshot({ path: join(artifacts, "13-admin-sign-in.png") });
    await admin.fill("#token", adminToken);
    await admin.click("button[type=submit]");
    await admin.waitForURL(/\/admin\/river\//, { timeout: T.ui });

    await admin.goto(`${adminBase}/admin/river/queues`);
    await admin.getByText("parse", { exact: true }).waitFor({ timeout: T.ui });
    await admin.screenshot({ path: join(artifacts, "14-admin-queues.png") });

    let job;
    await waitFor("the failed parse job in River", T.ui, async () => {
      const list = await riverAPI("/jobs?state=cancelled&kinds=parse&limit=100");
      job = list.data.sort((a, b) => b.id - a.id)[0];
      return job !== undefined;
    });
    await admin.goto(`${adminBase}/admin/river/jobs/${job.id}`);
    const retried = admin.waitForResponse((r) => r.url().endsWith("/api/jobs/retry") && r.request().method() === "POST");
    await admin.getByRole("button", { name: "Retry" }).click();
    assert.equal((await retried).status(), 200, "retried from the UI");
    await waitFor("the retried parse to run again", T.parse, async () => {
      const j = await riverAPI(`/jobs/${job.id}`);
      return j.attempt === job.attempt + 1 && j.state === "cancelled";
    });
    await admin.screenshot({ path: join(artifacts, "15-admin-job-retried.png") });

    await admin.goto(`${adminBase}/admin/river/queues`);
    const paused = admin.waitForResponse((r) => r.url().endsWith("/api/queues/parse/pause"));
    await admin.locator("tr", { hasText: "parse" }).getByRole("button").click();
    assert.equal((await paused).status(), 200, "paused from the UI");
    await admin.getByText("Paused").waitFor({ timeout: T.ui });
    await admin.screenshot({ path: join(artifacts, "16-admin-parse-paused.png") });
    const waiting = join(artifacts, "while-paused.pdf");
    writeFileSync(waiting, readFileSync(small[2]));
    await drop(page, [waiting]);
    await row("while-paused.pdf").and(page.locator("[data-status=queued]")).waitFor({ timeout: T.ui });
    // Paused: for a few seconds (workers learn of a pause within a second or two), it stays queued.
    for (const end = Date.now() + 4000; Date.now() < end; ) {
      assert.equal(await row("while-paused.pdf").getAttribute("data-status"), "queued", "a paused queue starts no parse");
      await new Promise((r) => setTimeout(r, 250));
    }
    const resumed = admin.waitForResponse((r) => r.url().endsWith("/api/queues/parse/resume"));
    await admin.locator("tr", { hasText: "parse" }).getByRole("button").click();
    assert.equal((await resumed).status(), 200, "resumed from the UI");
    await row("while-paused.pdf").and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
    await admin.close();
  });

  await step("where websockets cannot connect, the list falls back to SSE and stays live", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // As behind a proxy that refuses websocket upgrades: every one fails before it opens.
    await ctx.addInitScript(() => {
      const Real = window.WebSocket;
      window.WebSocket = class extends Real {
        constructor(_url, protocols) {
          super(`ws://${location.host}/no-websockets-here`, protocols);
        }
      };
    });
    const p2 = await ctx.newPage();
    p2.setDefaultTimeout(T.ui);
    p2.on("pageerror", (e) => pageErrors.push(String(e)));
    await p2.goto(base);
    await p2.getByLabel("Your name").fill(user);
    await p2.getByRole("button", { name: "Sign in" }).click();
    await p2.locator("[data-testid=connection][data-state=open][data-transport=sse]").waitFor();
    await p2.locator('[data-testid=doc-row][data-filename="Walden.pdf"][data-status=done]').waitFor();
    // An upload in the first tab shows up live in this one.
    await drop(page, [small[2]]);
    await waitFor("the second Walden.pdf in the SSE tab", T.parse, async () =>
      (await p2.locator('[data-testid=doc-row][data-filename="Walden.pdf"][data-status=done]').count()) === 2);
    await p2.screenshot({ path: join(artifacts, "13-sse-fallback.png"), fullPage: true });
    await ctx.close();
  });

  await step("twenty-one PDFs dropped at once: those over the rate limit wait for the window and go through", async () => {
    // 21 > two windows' worth (2 × 10): some are refused even if a window ends mid-batch.
    const copies = Array.from({ length: 21 }, (_, i) => {
      const f = join(artifacts, `batch-${String(i + 1).padStart(2, "0")}.pdf`);
      writeFileSync(f, readFileSync(small[2]));
      return f;
    });
    await drop(page, copies);
    await page.getByText(/Over the upload rate limit; trying again in \d+ s/).first().waitFor({ timeout: T.parse });
    await shot("14-rate-limited");
    for (const f of copies) {
      const name = f.split("/").pop();
      await page.locator(`[data-testid=upload][data-filename="${name}"][data-state=done]`).waitFor({ timeout: T.parse });
      await row(name).and(page.locator("[data-status=done]")).waitFor({ timeout: T.parse });
    }
    assert.equal(await page.locator("[data-testid=upload-error]").count(), 1, "only the PNG failed");
  });

  await step("narrow screens get one column; dark mode", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await shot("15-phone");
    await a11y("a phone-sized screen");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: "dark" });
    await row("TheGoProgrammingLanguageCh1.pdf").getByRole("button").click();
    await page.getByTestId("page-text").waitFor();
    await shot("16-dark");
    await a11y("dark mode");
  });

  assert.deepEqual(pageErrors, [], "no errors in the page (CSP, scripts)");
} catch (err) {
  failed = true;
  console.error(`\nFAIL: ${err?.stack ?? err}`);
  console.error(`folio dev's log: ${join(artifacts, "folio-dev.log")}`);
  if (pageErrors.length) console.error("page errors:", pageErrors);
} finally {
  await browser?.close().catch(() => undefined);
  folio.kill("SIGINT");
  const { code } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: "timeout" }), 30_000))]);
  if (code !== 0) {
    console.error(`folio dev exited with ${code}`);
    folio.kill("SIGKILL");
    failed = true;
  }
  rmSync(stateDir, { recursive: true, force: true });
}
console.log(failed ? "e2e: FAILED" : `e2e: ok (screenshots in ${artifacts})`);
process.exit(failed ? 1 : 0);

// ---- helpers

async function step(name, fn) {
  if (only && !only.test(name) && !name.startsWith("sign in")) return;
  const t0 = Date.now();
  process.stdout.write(`• ${name} … `);
  await fn();
  console.log(`ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

async function waitFor(what, timeout, cond, every = 250) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Drops files on the drop zone the way a browser does: dragenter, dragover, drop with a DataTransfer. */
async function drop(page, files) {
  const payload = files.map((f) => ({ name: f.split("/").pop(), b64: readFileSync(f).toString("base64") }));
  const dt = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of items) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], name, { type: name.endsWith(".pdf") ? "application/pdf" : "" }));
    }
    return dt;
  }, payload);
  const zone = page.getByTestId("dropzone");
  for (const type of ["dragenter", "dragover", "drop"]) await zone.dispatchEvent(type, { dataTransfer: dt });
}
