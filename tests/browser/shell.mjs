// xterm.js, speaking UCloud's shell protocol as UCloud's web client does, opens a shell session,
// runs a command typed on the keyboard, sees its output, resizes the terminal, and gets every
// input and resize frame acknowledged.
//
//   node run.mjs shell.mjs <ws url> <sessionIdentifier> <command> <expected text>
//
// The URL is the one the web client builds:
// <providerDomain>/ucloud/<providerId>/websocket?session=<id>&usernameHint=<base64 username>.
// The expected text must appear only in the command's output, not in the command itself
// (command `echo hello-$((6*7))-abc`, expected `hello-42-abc`).

export const timeout = 60000;

// The initialize reply; a provider answers at once or not at all.
const initializeTimeoutMs = 15000;
// A command's output on a serial console can trail its echo by a while on a busy guest.
const outputTimeoutMs = 20000;
const ackTimeoutMs = 10000;

// How the page's terminal and socket stand: the record of frames and the buffer's lines, with
// soft-wrapped rows joined back into the line they continue.
function snapshot()
{
	const buffer = window.term.buffer.active;
	const lines = [];
	for (let i = 0; i < buffer.length; i++) {
		const line = buffer.getLine(i);
		if (!line)
			continue;
		const text = line.translateToString(true);
		if (line.isWrapped && lines.length)
			lines[lines.length - 1] += text;
		else
			lines.push(text);
	}
	while (lines.length && lines[lines.length - 1].trim() === '')
		lines.pop();
	return {
		record: window.shellRecord,
		lines,
		cols: window.term.cols,
		rows: window.term.rows,
	};
}

// "1..24, 30" for the streamIds 1 to 24 and 30
function ranges(ids)
{
	const out = [];
	for (const id of ids.map(Number).sort((a, b) => a - b)) {
		const last = out[out.length - 1];
		if (last && id === last[1] + 1)
			last[1] = id;
		else
			out.push([id, id]);
	}
	return out.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', ');
}

// Runs of frames that differ only in streamId (one input frame per key, one ack per input) or in
// their data folded into one line each.
function fold(frames, key)
{
	const runs = [];
	for (const f of frames) {
		const run = runs[runs.length - 1];
		if (run && key(run.first) === key(f)) {
			run.ids.push(f.streamId);
			if (f.data !== undefined)
				run.data = (run.data ?? '') + f.data;
		} else {
			runs.push({ first: f, ids: [f.streamId], data: f.data });
		}
	}
	return runs.map(({ first, ids, data }) => {
		const { streamId, data: _, ...rest } = first;
		const streams = [...new Set(ids)];
		const out = streams.length > 1 ? { streams: ranges(streams) } : { streamId };
		Object.assign(out, rest);
		if (ids.length > 1)
			out.frames = ids.length;
		if (data !== undefined)
			out.data = data;
		return JSON.stringify(out);
	});
}

function describe(state)
{
	const { record, lines } = state;
	const tail = lines.slice(-20).map((l) => `    | ${l}`).join('\n');
	const acked = Object.keys(record.acks);
	const many = acked.filter((id) => record.acks[id] > 1).map((id) => `${id}×${record.acks[id]}`);
	const sent = fold(record.sent, (f) => f.type);
	// the output apart from the rest: a frame per echoed key would bury every ack
	const output = record.received.filter((f) => f.payloadType === 'data');
	const outputText = output.map((f) => f.data ?? '').join('');
	const outputStreams = [...new Set(output.map((f) => f.streamId))];
	const other = fold(record.received.filter((f) => f.payloadType !== 'data'),
		(f) => `${f.type} ${f.payloadType} ${f.status}`);
	const shown = other.slice(-40);
	return [
		`  socket: ${record.url}, ${record.opened ? 'opened' : 'never opened'}, ` +
			`closed: ${record.closed ? JSON.stringify(record.closed) : 'no'}`,
		`  errors: ${record.errors.length ? record.errors.join('; ') : 'none'}`,
		`  acked streams: ${acked.length ? ranges(acked) : 'none'}` +
			`${many.length ? `; acked more than once: ${many.join(', ')}` : ''}` +
			`; frames for no live stream: ${record.unrouted}`,
		`  sent (${record.sent.length} frames):`,
		...sent.map((f) => `    ${f}`),
		`  received, apart from output (${record.received.length - output.length} frames` +
			`${shown.length < other.length ? `, last ${shown.length} runs` : ''}):`,
		...shown.map((f) => `    ${f}`),
		`  output: ${output.length} data frames on stream ${outputStreams.join(', ') || '-'}, ` +
			`${outputText.length} chars, ending ${JSON.stringify(outputText.slice(-300))}`,
		`  terminal ${state.cols}x${state.rows}, last ${Math.min(20, lines.length)} lines:`,
		tail || '    (empty)',
	].join('\n');
}

async function fail(page, message)
{
	const state = await page.evaluate(snapshot);
	throw new Error(`${message}\n${describe(state)}`);
}

// Polls the page until check(state) returns something truthy; a socket that closes first fails at
// once, since nothing more can arrive.
async function waitFor(page, ms, what, check)
{
	const deadline = Date.now() + ms;
	for (;;) {
		const state = await page.evaluate(snapshot);
		const value = check(state);
		if (value)
			return value;
		if (state.record.closed)
			await fail(page, `the socket closed while waiting for ${what}`);
		if (Date.now() > deadline)
			await fail(page, `no ${what} within ${ms} ms`);
		await page.waitForTimeout(100);
	}
}

// The streams the web client opened with a "call" (input, resize) that have no ack yet.
function unacked(record)
{
	return record.sent.filter((f) => f.type !== 'initialize' && !record.acks[f.streamId]);
}

export default async function ({ page, args, log }) {
	const [url, sessionIdentifier, command, expected] = args;
	if (!url || !sessionIdentifier || !command || !expected)
		throw new Error('usage: shell.mjs <ws url> <sessionIdentifier> <command> <expected text>');
	if (command.includes(expected))
		throw new Error(`the expected text ${JSON.stringify(expected)} is in the command itself`);

	await page.goto('/shell.html');
	await page.waitForFunction(() => window.shellReady === true);
	await page.evaluate(([u, s]) => window.openShell(u, s), [url, sessionIdentifier]);

	const init = await waitFor(page, initializeTimeoutMs, 'initialize reply', ({ record }) => {
		const first = record.sent[0];
		if (!first)
			return null;
		return record.received.find((f) => f.type === 'message' && f.streamId === first.streamId &&
			f.payloadType === 'initialize') && first;
	});
	if (init.type !== 'initialize' || init.streamId !== '0')
		await fail(page, `the first frame sent is ${JSON.stringify(init)}, not initialize on stream 0`);
	log.push(`[test] initialized ${init.cols}x${init.rows} on ${url}`);

	// Typed as a person would: key events on xterm's focused textarea, which hands them to onData.
	await page.evaluate(() => window.term.focus());
	await page.keyboard.type(command, { delay: 20 });
	await page.keyboard.press('Enter');

	// xterm.js also answers terminal queries in the output (device attributes, cursor position)
	// through onData, so the keys need only be in there, in order.
	const typed = await page.evaluate(() => window.shellRecord.sent
		.filter((f) => f.type === 'input').map((f) => f.data).join(''));
	if (!typed.includes(`${command}\r`)) {
		await fail(page, `the input frames carry ${JSON.stringify(typed)}, ` +
			`without ${JSON.stringify(`${command}\r`)}`);
	}
	log.push(`[test] typed ${JSON.stringify(command)} and Enter`);

	// The output: a line that is the expected text and nothing else, so never the echoed command.
	const outputLine = await waitFor(page, outputTimeoutMs,
		`line ${JSON.stringify(expected)} in the terminal`, ({ lines }) => {
			const i = lines.findIndex((l) => l.trim() === expected && !l.includes(command));
			return i >= 0 ? { index: i, text: lines[i] } : null;
		});
	log.push(`[test] output on line ${outputLine.index}: ${JSON.stringify(outputLine.text)}`);

	// A resize, as the web client sends one on terminal.onResize, acknowledged on its own stream.
	const size = await page.evaluate(() => {
		const cols = window.term.cols + 20;
		const rows = window.term.rows + 6;
		window.term.resize(cols, rows);
		return { cols, rows };
	});
	const resize = await waitFor(page, ackTimeoutMs, `ack of the resize to ${size.cols}x${size.rows}`,
		({ record }) => {
			const f = record.sent.find((s) => s.type === 'resize' && s.cols === size.cols &&
				s.rows === size.rows);
			return f && record.acks[f.streamId] ? f : null;
		});
	log.push(`[test] resize to ${size.cols}x${size.rows} acked on stream ${resize.streamId}`);

	// Every input and resize frame acknowledged, each exactly once.
	await waitFor(page, ackTimeoutMs, 'ack of every input and resize frame',
		({ record }) => unacked(record).length === 0);
	const state = await page.evaluate(snapshot);
	const { record } = state;
	const twice = Object.entries(record.acks).filter(([, n]) => n > 1).map(([id]) => id);
	if (twice.length)
		await fail(page, `streams acked more than once: ${twice.join(', ')}`);
	const stray = Object.keys(record.acks).filter((id) => !record.sent.some((f) => f.streamId === id));
	if (stray.length)
		await fail(page, `acks for streams never opened: ${stray.join(', ')}`);
	if (record.closed)
		await fail(page, 'the socket closed before the test ended');
	if (record.errors.length)
		await fail(page, `the page recorded errors: ${record.errors.join('; ')}`);

	const inputs = record.sent.filter((f) => f.type === 'input').length;
	log.push(`[test] ${inputs} input frames and 1 resize acked; ${record.received.length} frames received`);
	console.log(`shell: ${JSON.stringify(command)} printed ${JSON.stringify(expected)}; ` +
		`${inputs} input frames and 1 resize acked`);
}
