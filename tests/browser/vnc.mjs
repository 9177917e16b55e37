// noVNC, given what UCloud's web client gets for a VNC session (URL, password), shows the guest's
// screen and types into its keyboard.
//
//   node run.mjs vnc.mjs <session url> [password]

export const timeout = 90000;

// Enough for the first framebuffer update of a freshly booted guest to arrive and be drawn.
const screenTimeoutMs = 30000;

function lastEvent(events)
{
	return events.length ? JSON.stringify(events[events.length - 1]) : 'none';
}

// What the canvas shows: its size, how many distinct colours a coarse grid of samples holds, and
// how many sampled pixels are not black.
function sampleCanvas()
{
	const canvas = document.querySelector('#screen canvas');
	if (!canvas || canvas.width === 0 || canvas.height === 0)
		return { width: 0, height: 0, colours: 0, lit: 0, samples: 0 };
	const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
	const colours = new Set();
	let lit = 0;
	let samples = 0;
	// every pixel of every 4th row: text is a few pixels tall, a sparser grid could miss it
	for (let y = 0; y < canvas.height; y += 4) {
		for (let x = 0; x < canvas.width; x++) {
			const i = (y * canvas.width + x) * 4;
			colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
			if (data[i] | data[i + 1] | data[i + 2])
				lit++;
			samples++;
		}
	}
	return { width: canvas.width, height: canvas.height, colours: colours.size, lit, samples };
}

export default async function ({ page, args, log }) {
	const [url, password] = args;
	if (!url)
		throw new Error('usage: vnc.mjs <session url> [password]');

	await page.goto('/vnc.html');
	await page.waitForFunction(() => window.vncReady === true);
	await page.evaluate(([u, p]) => window.openConsole(u, p), [url, password ?? null]);

	await page.waitForFunction(() => window.vncEvents.length > 0, null,
		{ timeout: screenTimeoutMs });
	const events = await page.evaluate(() => window.vncEvents);
	if (events[0].type !== 'connect')
		throw new Error(`the console did not connect: first event ${JSON.stringify(events[0])}`);
	log.push(`[test] connected to ${url}`);

	// The guest's text console is mostly black with some text on it (the firmware's and the boot
	// loader's lines at least): at least two colours, and some pixels lit.
	let screen = null;
	const deadline = Date.now() + screenTimeoutMs;
	for (;;) {
		screen = await page.evaluate(sampleCanvas);
		if (screen.colours >= 2 && screen.lit > 0)
			break;
		if (Date.now() > deadline) {
			throw new Error(`the screen stayed blank: ${JSON.stringify(screen)}; ` +
				`last event ${lastEvent(await page.evaluate(() => window.vncEvents))}`);
		}
		await page.waitForTimeout(250);
	}
	log.push(`[test] screen ${JSON.stringify(screen)}`);
	console.log(`vnc: screen ${screen.width}x${screen.height}, ${screen.colours} colours, ` +
		`${screen.lit} of ${screen.samples} sampled pixels lit`);

	// Typed as a person would: key events on the focused canvas, which noVNC translates.
	await page.evaluate(() => window.rfb.focus());
	await page.keyboard.type('qwe', { delay: 50 });
	// the keys are on their way; closing the browser at once would race them
	await page.waitForTimeout(500);

	const after = await page.evaluate(() => window.vncEvents);
	if (after.some((e) => e.type === 'disconnect'))
		throw new Error(`the console dropped: ${lastEvent(after)}`);
}
