import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../infra/local/postgres';
import type { LocalRuntime } from '../../infra/local/runtime';
import { uniqueNamePrefix } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { startTestRuntime } from '../support/runtime';
import { totalsOf } from './ledger';

/** Debian's chromium (`.ci/run` installs it with apt); CHROMIUM_PATH names another. */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of each run, git-ignored; the README's picture is one of them, copied to docs/. */
const artifactsDirectory = path.join(projectRoot, 'test-artifacts');
const pageTimeoutMs = 20_000;

const database = useTestDatabase();
let runtime: LocalRuntime;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  await mkdir(artifactsDirectory, { recursive: true });
  runtime = await startTestRuntime({ databaseUrl: database.url, namePrefix: uniqueNamePrefix() });
  // Root in CI containers cannot use chromium's sandbox.
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.setDefaultTimeout(pageTimeoutMs);
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
});

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifactsDirectory, `${name}.png`), fullPage: true });
}

describe('the System Internals page in a browser', () => {
  it('is served without a key and asks for the key before it shows any data', async () => {
    const response = await page.goto(`${runtime.url}/admin/system`);

    expect(response?.status()).toBe(200);
    await expect.poll(() => page.getByLabel('API key').isVisible()).toBe(true);
    expect(await page.getByRole('heading', { name: 'Gauges' }).count()).toBe(0);
  });

  it('refuses a wrong key and accepts the right one, kept for the session', async () => {
    await page.getByLabel('API key').fill('lx_wrong');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('alert').filter({ hasText: '401' }).waitFor();

    await page.getByLabel('API key').fill(runtime.apiKey);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('heading', { name: 'Gauges' }).waitFor();
    await page.reload();

    await page.getByRole('heading', { name: 'Gauges' }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('ledgerx.apiKey')")).toBe(runtime.apiKey);
  });

  it('labels every control', async () => {
    // Runs in the page (a string, as the tests are type-checked without the DOM library).
    const unlabelled = await page.evaluate(`
      [...document.querySelectorAll('button, input, select, textarea, a[href]')]
        .filter((control) => !(
          (control.labels?.length ?? 0) > 0 ||
          (control.getAttribute('aria-label') ?? '').trim() !== '' ||
          (control.tagName !== 'INPUT' && (control.textContent ?? '').trim() !== '')
        ))
        .map((control) => control.outerHTML)
    `);

    expect(unlabelled).toEqual([]);
    for (const name of ['Dispatch Transaction', 'Dispatch burst', 'Run double-spend demo', 'Look up']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(1);
    }
    for (const name of [
      'Burst size',
      'Funding X',
      'Spend Y',
      'Concurrent spends N',
      'Account id',
      'Status',
    ]) {
      expect(await page.getByLabel(name).count(), name).toBe(1);
    }
  });

  it('dispatches a transaction from the keyboard and shows its journey to posted, step by step', async () => {
    // Tab from the top of the page to Dispatch Transaction, then press Enter.
    await page.locator('body').focus();
    let focused = '';
    for (let tab = 0; tab < 30 && focused !== 'Dispatch Transaction'; tab += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate("document.activeElement?.textContent?.trim() ?? ''");
    }
    expect(focused).toBe('Dispatch Transaction');
    await page.keyboard.press('Enter');

    await page.getByTestId('transfer-status').filter({ hasText: 'posted' }).waitFor();
    // The journey's last step: the fraud scorer's verdict, after the event was published.
    const scored = page.locator('li[data-step="fraud_scored"][data-state="recorded"]');
    await scored.waitFor();
    const recorded = await page
      .locator('li[data-state="recorded"]')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-step')));
    const transferId = (await page.getByTestId('followed-transfer-id').textContent()) ?? '';
    const api = await fetch(`${runtime.url}/v1/transfers/${transferId}`, {
      headers: { 'x-api-key': runtime.apiKey },
    });
    const timeline = ((await api.json()) as { timeline: { step: string }[] }).timeline.map(
      (step) => step.step,
    );
    await screenshot('dashboard-dispatched');

    // The page shows what the API recorded, in order: nothing invented, nothing left out.
    expect(recorded).toEqual(timeline);
    expect(recorded).toEqual(
      expect.arrayContaining([
        'accepted',
        'idempotency_checked',
        'velocity_checked',
        'queued',
        'picked_up',
        'posted',
        'outbox_written',
        'event_published',
        'fraud_scored',
      ]),
    );
    await expect
      .poll(() => page.locator('li[data-step="queued"]').textContent())
      .toContain('message group (debit account)');
    // The live feed lists the followed transfer among the recent ones, posted.
    const followedRow = page.getByTestId('recent-row').filter({
      has: page.getByRole('button', { name: `Follow transfer ${transferId}` }),
    });
    await expect.poll(() => followedRow.textContent()).toContain('posted');
  });

  it('shows the throughput and queue gauges from the running system', async () => {
    await expect
      .poll(() => page.getByTestId('throughput-now').textContent(), { timeout: 10_000 })
      .toMatch(/peak [1-9]/);
    expect(await page.getByTestId('gauge-queue-value').textContent()).toMatch(/^\d+$/);
    expect(await page.getByTestId('gauge-dlq-value').textContent()).toBe('0');
    await expect.poll(() => page.getByTestId('gauge-batches').textContent()).toMatch(/transfers\/batch/);
  });

  it('runs the double-spend demo: exactly floor(X / Y) spends post, the rest are rejected exceeds_credits', async () => {
    await page.getByLabel('Funding X').fill('25');
    await page.getByLabel('Spend Y').fill('5');
    await page.getByLabel('Concurrent spends N').fill('12');

    await page.getByRole('button', { name: 'Run double-spend demo' }).click();
    const result = page.getByTestId('double-spend-result');
    await result.waitFor({ timeout: 40_000 });
    await screenshot('dashboard-double-spend');

    expect(await page.getByTestId('double-spend-posted').textContent()).toBe('5');
    expect(await page.getByTestId('double-spend-rejected').textContent()).toBe('7');
    expect(await result.textContent()).toContain('exceeds_credits');
    expect(await page.getByTestId('double-spend-verdict').textContent()).toContain(
      'exactly that many posted',
    );
    const walletId = ((await result.locator('code').textContent()) ?? '').trim();
    expect(await totalsOf(database.pool, walletId)).toEqual({ debits: '25', credits: '25' });
  });

  it('looks an account up: its totals and its entries', async () => {
    const walletId = (
      (await page.getByTestId('double-spend-result').locator('code').textContent()) ?? ''
    ).trim();

    await page.getByLabel('Account id').fill(walletId);
    await page.getByRole('button', { name: 'Look up' }).click();

    await page.getByTestId('account-balance').waitFor();
    expect(await page.getByTestId('account-balance').textContent()).toBe('$0.00');
    // The funding credit and five spends.
    await expect
      .poll(() => page.locator('section[aria-labelledby="account-heading"] tbody tr').count())
      .toBe(6);
  });

  it('filters recent transfers by status', async () => {
    await page.getByLabel('Status').selectOption('rejected');

    await expect.poll(() => page.getByTestId('recent-row').count()).toBe(7);
    const statuses = await page.getByTestId('recent-row').locator('td:nth-child(4)').allTextContents();
    expect(statuses.every((status) => status === 'rejected: exceeds_credits')).toBe(true);
    await page.getByLabel('Status').selectOption('all');
  });

  it('dispatches a burst and counts its transfers as accepted, then as recorded', async () => {
    await page.getByLabel('Burst size').fill('15');

    await page.getByRole('button', { name: 'Dispatch burst' }).click();

    const progress = page.getByTestId('burst-progress');
    await expect.poll(() => progress.textContent(), { timeout: 30_000 }).toContain('Recorded 15 of 15');
    expect(await progress.textContent()).toContain('Accepted 15 of 15');
    await screenshot('dashboard-burst');
  });
});
