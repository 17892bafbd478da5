// The portal in headless Chromium: log in, see generated content and which version served it, submit
// the image and message forms, and keep a screenshot for a human to look at.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startPostgres,
  startRedis,
  type PostgresInstance,
  type RedisInstance,
} from "../../scripts/lib/app/stores.ts";
import { ROOT } from "./support/process.ts";
import { startStack, type Stack } from "./support/stack.ts";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

let postgres: PostgresInstance;
let redis: RedisInstance;
let stack: Stack;
let browser: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  stack = await startStack({ postgresUrl: postgres.url, redisUrl: redis.url, contentVersion: "v3" });
  profile = mkdtempSync(join(tmpdir(), "workshop-chromium-"));
  // A persistent context is how Playwright takes a user-data dir: a fresh one per run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 1100 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stack?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

describe("frontend-portal in a browser", () => {
  it("shows generated content with the serving version, pod and trace id before login", async () => {
    const response = await page.goto(`${stack.urls.portal}/`);
    expect(response?.status()).toBe(200);
    await expect.poll(() => page.getByTestId("content-card").count()).toBe(3);
    const text = await page.getByTestId("content-text").first().textContent();
    expect(text).toMatch(/!!!$/);
    const chip = page.getByTestId("content-card").first().getByTestId("served");
    expect(await chip.getAttribute("data-version")).toBe("v3");
    expect(await chip.textContent()).toContain("content-generator-test");
    const traceId = await page.getByTestId("trace-id").textContent();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(await chip.textContent()).toContain(traceId!.slice(0, 16));
    expect(await page.getByTestId("user").textContent()).toContain("not logged in");
  });

  it("refuses a wrong password and says why", async () => {
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "not-her-password");
    await page.click('[data-testid="login-form"] button');
    await page.waitForSelector('[data-testid="flash"]');
    expect(await page.getByTestId("flash").textContent()).toContain("unknown user or wrong password");
  });

  it("logs in, saves image metadata and sends a message", async () => {
    await page.goto(`${stack.urls.portal}/`);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "wonderland");
    await Promise.all([
      page.waitForURL(`${stack.urls.portal}/`),
      page.click('[data-testid="login-form"] button'),
    ]);
    expect(await page.getByTestId("user").textContent()).toContain("alice");

    await page.fill('[data-testid="image-form"] input[name="title"]', "Browser test image");
    await page.selectOption('[data-testid="image-form"] select[name="format"]', "webp");
    await page.click('[data-testid="image-form"] button');
    await page.waitForSelector('[data-testid="flash"]');
    const flash = page.getByTestId("flash");
    expect(await flash.textContent()).toMatch(/Image saved as "[a-z0-9-]+"/);
    expect(await flash.getByTestId("served").getAttribute("data-service")).toBe("image-processor");
    // The part was called by the form's POST, not by the page's GET after the redirect: compared
    // with the POST's trace, propagation that works shows as the same trace (no red warning).
    const formTrace = await flash.getByTestId("flash-trace-id").textContent();
    expect(formTrace).toMatch(/^[0-9a-f]{32}$/);
    expect(formTrace).not.toBe(await page.getByTestId("trace-id").textContent());
    expect(await flash.getByTestId("served").getAttribute("data-trace")).toBe("same");
    expect(await flash.getByTestId("served").textContent()).toContain(formTrace!.slice(0, 16));
    expect(await flash.locator(".broken").count()).toBe(0);
    expect(await page.getByTestId("images").textContent()).toContain("Browser test image");

    await page.fill('[data-testid="message-form"] input[name="to"]', "bob@example.com");
    await page.fill('[data-testid="message-form"] input[name="subject"]', "Hello from Chromium");
    await page.fill('[data-testid="message-form"] textarea[name="body"]', "Sent through the queue.");
    await page.click('[data-testid="message-form"] button');
    await page.waitForSelector('[data-testid="flash"]');
    expect(await page.getByTestId("flash").textContent()).toContain("Message queued");

    // The consumer sends asynchronously: look again until the message shows up as sent. (A reload is
    // safe too: the forms redirect, so nothing is posted twice.)
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.getByTestId("messages").textContent();
        },
        { timeout: 10_000 },
      )
      .toContain("Hello from Chromium");
    expect((await page.getByTestId("messages").textContent())?.match(/Hello from Chromium/g)).toHaveLength(1);

    mkdirSync(join(ROOT, "test-results"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "test-results", "portal.png"), fullPage: true });
  });

  it("fits a phone: no horizontal overflow, tables scroll inside their box, every trace the same", async () => {
    // Logged in (same context) with images and messages from the test before: the widest page.
    const phone = await browser.newPage();
    const shots = mkdtempSync(join(tmpdir(), "portal-phone-"));
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${stack.urls.portal}/`);
      await phone.fill('[data-testid="message-form"] input[name="to"]', "carol@example.com");
      await phone.fill('[data-testid="message-form"] input[name="subject"]', "From a phone");
      await phone.fill('[data-testid="message-form"] textarea[name="body"]', "Small screen.");
      await phone.click('[data-testid="message-form"] button');
      await phone.waitForSelector('[data-testid="flash"]');
      await expect.poll(() => phone.getByTestId("content-card").count()).toBe(3);
      expect(await phone.getByTestId("images").textContent()).toContain("Browser test image");
      // A string: the test's TypeScript has no DOM types; this runs in the page.
      const widths = await phone.evaluate<{ scroll: number; body: number; viewport: number }>(
        "({ scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })",
      );
      expect(widths.viewport).toBe(390);
      expect(widths.scroll).toBeLessThanOrEqual(widths.viewport);
      expect(widths.body).toBeLessThanOrEqual(widths.viewport);
      // Every chip on the page, the flash's included, shows a working trace.
      const states = await phone
        .getByTestId("served")
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-trace")));
      expect(states.length).toBeGreaterThanOrEqual(6);
      expect(new Set(states)).toEqual(new Set(["same"]));
      expect(await phone.locator(".broken").count()).toBe(0);
      const shot = join(shots, "portal-phone.png");
      await phone.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      expect(png.length).toBeGreaterThan(20_000);
      // A full-page shot of a page that does not overflow is exactly the viewport wide.
      expect(png.readUInt32BE(16)).toBe(390);
    } finally {
      await phone.close();
      rmSync(shots, { recursive: true, force: true });
    }
  });
});
