// Runs one browser test module against Debian's Chromium, with noVNC, xterm.js and the test pages
// served from loopback, and exits non-zero (printing the page's console) when it fails.
//
//   node tests/browser/run.mjs <test-file.mjs> [args...]

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, 'node_modules');

// Longest prefix first: '/' catches everything the libraries do not.
const mounts = [
	['/novnc/', path.join(modules, '@novnc', 'novnc')],
	['/xterm/', path.join(modules, '@xterm', 'xterm')],
	['/', path.join(here, 'pages')],
];

const mimeTypes = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.mjs': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.json': 'application/json',
	'.map': 'application/json',
	'.svg': 'image/svg+xml',
	'.png': 'image/png',
	'.ico': 'image/x-icon',
	'.wasm': 'application/wasm',
};

// The flags Chromium needs as root in a container without a GPU, plus the ones that stop it
// from reaching out to the network on its own: only loopback is reachable here, and a hung
// background request would only slow the test down.
const chromiumArgs = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

const defaultTimeoutMs = 60000;

function resolveFile(urlPath)
{
	for (const [prefix, root] of mounts) {
		if (!urlPath.startsWith(prefix))
			continue;
		const file = path.join(root, path.normalize(urlPath.slice(prefix.length)));
		// path.join already folds '..'; this refuses whatever still escapes the root
		if (file !== root && !file.startsWith(root + path.sep))
			return null;
		return file;
	}
	return null;
}

async function handle(req, res)
{
	if (req.method !== 'GET' && req.method !== 'HEAD') {
		res.writeHead(405).end();
		return;
	}
	let urlPath;
	try {
		urlPath = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
	} catch {
		res.writeHead(400).end();
		return;
	}
	const file = resolveFile(urlPath);
	const info = file ? await stat(file).catch(() => null) : null;
	if (!info || !info.isFile()) {
		res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${urlPath}\n`);
		return;
	}
	res.writeHead(200, {
		'Content-Type': mimeTypes[path.extname(file)] ?? 'application/octet-stream',
		'Content-Length': info.size,
		// a rerun after editing a page must never see the old copy
		'Cache-Control': 'no-store',
	});
	if (req.method === 'HEAD') {
		res.end();
		return;
	}
	createReadStream(file).pipe(res);
}

function startServer()
{
	const server = createServer((req, res) => {
		handle(req, res).catch((e) => {
			if (!res.headersSent)
				res.writeHead(500);
			res.end(String(e));
		});
	});
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve(server));
	});
}

function isLoopback(url)
{
	const { protocol, hostname } = new URL(url);
	if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:')
		return true;
	return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

function withTimeout(promise, ms, what)
{
	let timer;
	const expired = new Promise((_, reject) => {
		timer = setTimeout(() => {
			const e = new Error(`${what} timed out after ${ms} ms`);
			e.stack = e.message; // where the timer fired says nothing about what hung
			reject(e);
		}, ms);
	});
	return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function main()
{
	const [testArg, ...args] = process.argv.slice(2);
	if (!testArg) {
		console.error('usage: node run.mjs <test-file.mjs> [args...]');
		return 2;
	}
	const testFile = path.resolve(testArg);
	const name = path.basename(testFile, path.extname(testFile));
	const test = await import(pathToFileURL(testFile).href);
	if (typeof test.default !== 'function') {
		console.error(`${testArg}: a test module must export a default async function`);
		return 2;
	}
	const timeoutMs = Number(process.env.BROWSER_TEST_TIMEOUT_MS) || test.timeout || defaultTimeoutMs;

	const log = [];
	const server = await startServer();
	const baseURL = `http://127.0.0.1:${server.address().port}`;
	let browser = null;
	let page = null;

	try {
		browser = await chromium.launch({
			executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
			headless: true,
			args: chromiumArgs,
			timeout: 30000,
		});
		const context = await browser.newContext({ baseURL });
		// Test pages must be self-contained; fail a stray fetch at once instead of letting it
		// hang on a network this machine does not have.
		await context.route((url) => !isLoopback(url.href), (route) => {
			log.push(`[blocked] ${route.request().url()}`);
			return route.abort('blockedbyclient');
		});
		page = await context.newPage();
		page.setDefaultTimeout(Math.min(15000, timeoutMs));
		page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
		page.on('pageerror', (e) => log.push(`[pageerror] ${e.stack ?? e.message}`));
		page.on('requestfailed', (r) =>
			log.push(`[requestfailed] ${r.url()}: ${r.failure()?.errorText}`));
		page.on('response', (r) => {
			if (r.status() >= 400)
				log.push(`[http ${r.status()}] ${r.url()}`);
		});

		await withTimeout(test.default({ page, context, browser, baseURL, args, log }),
			timeoutMs, 'the test');
	} catch (e) {
		console.error(`FAIL ${name}: ${e.stack ?? e}`);
		if (page) {
			const shot = path.join(await mkdtemp(path.join(tmpdir(), 'browser-test-')), `${name}.png`);
			await withTimeout(page.screenshot({ path: shot }), 5000, 'screenshot')
				.then(() => console.error(`screenshot: ${shot}`))
				.catch(() => {});
		}
		console.error(log.length ? `browser console:\n  ${log.join('\n  ')}` : 'browser console: (empty)');
		console.log('browser: 0 passed, 1 failed');
		return 1;
	} finally {
		await withTimeout(browser?.close() ?? Promise.resolve(), 10000, 'closing Chromium')
			.catch(() => {});
		server.closeAllConnections();
		server.close();
	}
	if (process.env.BROWSER_TEST_VERBOSE && log.length)
		console.log(`browser console:\n  ${log.join('\n  ')}`);
	console.log(`PASS ${name}`);
	console.log('browser: 1 passed, 0 failed');
	return 0;
}

// exit explicitly: a test that leaves a socket or timer behind must not keep the run alive
main().then((code) => process.exit(code), (e) => {
	console.error(`FAIL: ${e.stack ?? e}`);
	process.exit(1);
});
