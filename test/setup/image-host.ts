/**
 * A local image host for the edge's remote-image tests (workerd has no internet): the edge reaches
 * it through the loopback allowance the local stack gives callbacks (CALLBACK_ALLOW_LOOPBACK).
 * `/pixel.png` a 1×1 PNG; `/fake.png` text declared as a PNG; `/page.html` a PNG served as HTML;
 * `/huge.png` a PNG signature and 6 MiB after it; `/to-pixel` a redirect to `/pixel.png`;
 * `/to-private` a redirect to a private address; `/slow.png` never answers; anything else 404.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A valid 1×1 transparent PNG (67 bytes). */
export const PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

export async function startImageHost(): Promise<{ server: Server; url: string }> {
  const huge = Buffer.concat([PIXEL_PNG.subarray(0, 8), Buffer.alloc(6 * 1024 * 1024)]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/pixel.png') res.writeHead(200, { 'content-type': 'image/png' }).end(PIXEL_PNG);
    else if (path === '/fake.png') res.writeHead(200, { 'content-type': 'image/png' }).end('not an image at all');
    else if (path === '/page.html') res.writeHead(200, { 'content-type': 'text/html' }).end(PIXEL_PNG);
    else if (path === '/huge.png') res.writeHead(200, { 'content-type': 'image/png' }).end(huge);
    else if (path === '/to-pixel') res.writeHead(302, { location: '/pixel.png' }).end();
    else if (path === '/to-private') res.writeHead(302, { location: 'http://10.0.0.1/pixel.png' }).end();
    else if (path === '/slow.png')
      return; // never answers: the edge's fetch deadline ends it
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
