// Proves that the runner, Debian's Chromium, noVNC and xterm.js work together here.

export const timeout = 30000;

export default async function ({ page }) {
	await page.goto('/smoke.html');
	await page.waitForFunction(() => window.smokeReady === true);

	const rfbType = await page.evaluate(() => typeof window.RFB);
	if (rfbType !== 'function')
		throw new Error(`typeof RFB is ${rfbType}, expected function`);

	// write() parses asynchronously; its callback fires once the buffer holds the text
	await page.evaluate(() => new Promise((resolve) => window.term.write('hello', resolve)));
	const line = await page.evaluate(() =>
		window.term.buffer.active.getLine(0).translateToString(true));
	if (line !== 'hello')
		throw new Error(`terminal line 0 is ${JSON.stringify(line)}, expected "hello"`);
}
