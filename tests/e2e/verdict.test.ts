// e2e/run.ts's verdict: it used to print "e2e: passed" and exit 0 when every spec was skipped.
import { describe, expect, it } from 'vitest';
import { verdict } from '../../e2e/verdict';

describe('e2e verdict', () => {
  it('fails when every spec was skipped', () => {
    const v = verdict([
      { spec: 'headless', passed: 0, failed: 0, skipped: 'no Chromium at /usr/bin/chromium' },
      { spec: 'electron', passed: 0, failed: 0, skipped: 'no Electron binary' },
    ]);
    expect(v.code).toBe(1);
    expect(v.line).toMatch(/nothing was tested .*headless: skipped \(no Chromium/);
  });

  it('fails when no spec ran at all, or the only spec ran no step', () => {
    expect(verdict([]).code).toBe(1);
    expect(verdict([]).line).toContain('no spec ran');
    expect(verdict([{ spec: 'headless', passed: 0, failed: 0 }]).code).toBe(1);
  });

  it('fails on a failed step or a spec error even when others passed', () => {
    expect(verdict([{ spec: 'headless', passed: 12, failed: 1 }]).code).toBe(1);
    expect(verdict([{ spec: 'headless', passed: 12, failed: 0 }, { spec: 'electron', passed: 0, failed: 1, error: 'boom' }]).code).toBe(1);
  });

  it('passes when a spec ran and passed, naming the skipped ones', () => {
    const v = verdict([
      { spec: 'headless', passed: 12, failed: 0 },
      { spec: 'electron', passed: 0, failed: 0, skipped: 'no Electron binary' },
    ]);
    expect(v).toEqual({ code: 0, line: 'e2e: passed (headless; skipped: electron)' });
  });
});
