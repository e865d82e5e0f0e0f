export { imageForViewer, MAX_VIEWER_SIDE, type ViewerImage } from './viewer-image.js';
export { LiveFeed, MJPEG_BOUNDARY, type LiveFeedOptions } from './live-feed.js';
export { LatencyHistory, type LatencyHistoryJson } from './latency-history.js';
export { overlayGeometry, type OverlayGeometry } from './overlay-geometry.js';
export { buildStatus, type LiveStatus, type StatusSources } from './status.js';
export { startHttpServer, type HttpServer, type HttpServerOptions } from './server.js';
export { hasToken, hostAllowed, requestPath, SECURITY_HEADERS, MIN_TOKEN_LENGTH } from './http-guard.js';
