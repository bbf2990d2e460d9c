// The client role: dial, run the link, and per Persist reconnect with back-off (Session.retryLoop:
// first retry after `first`, then from `base` doubling up to `max`, and with Keepalive set short
// enough that a link that comes back is used within the keep-alive window; a link that was
// connected resets it). Persist = keep also keeps the device and the routes between links (not
// across a reload that changed them).
import type { SessionConfig } from '../config/types.js';
import { ExitCode } from '../exit.js';
import { formatEndpoint } from '../net.js';
import type { SessionReporter } from '../status/types.js';
import { isOrderlyEnd, type Link, type Protocol } from './protocol.js';
import { Session, type LinkRun, type SessionContext } from './session.js';

export { backoffDelay, DEFAULT_BACKOFF } from './session.js';

/**
 * The keep-alive window in ms, (COUNT + 2) x (INTERVAL + 1) s: how long a silent peer takes to be
 * declared dead (Infinity without Keepalive). A session that chose it expects a link that comes
 * back to be used again within that time.
 */
export function keepaliveWindowMs(keepalive: SessionConfig['session']['keepalive']): number {
  return keepalive.enabled ? (keepalive.count + 2) * (keepalive.interval + 1) * 1000 : Infinity;
}

/**
 * The longest reconnect wait with Keepalive set: the window less one keep-alive step
 * (INTERVAL + 1 s), which is left for the attempt itself (dial, handshake). A wait of the whole
 * window, begun by an attempt that failed just before the link came back, ends past it.
 */
export function reconnectCapMs(keepalive: SessionConfig['session']['keepalive']): number {
  return keepaliveWindowMs(keepalive) - (keepalive.interval + 1) * 1000;
}

export class ClientSession extends Session {
  private activeLink: Link | null = null;
  /** a reload asked to reconnect now (with `pending` when the configuration changed) */
  private reconnectNow = false;

  constructor(protocol: Protocol, config: SessionConfig, secret: Buffer, ctx: SessionContext, reporter: SessionReporter) {
    super(protocol, config, secret, ctx, reporter, 'client');
  }

  protected reloadProblem(fresh: SessionConfig): string | null {
    if (fresh.session.role !== 'client' || !fresh.session.endpoint) return 'the session is no longer a client with an Endpoint; restart it to change its role';
    if (fresh.session.protocol !== this.config.session.protocol) return `Protocol changed to ${fresh.session.protocol}; restart the session to change it`;
    return null;
  }

  protected applyReload(fresh: SessionConfig, secret: Buffer, unchanged: boolean): string {
    const up = this.activeLink !== null && this.status.state === 'connected';
    if (up && unchanged) return 'configuration unchanged, the link stays up';
    this.pending = { config: fresh, secret };
    this.reconnectNow = true;
    void this.activeLink?.close('reload');
    this.wake?.();
    if (!up) return unchanged ? 'configuration unchanged; connecting again now' : 'configuration changed; connecting with it now';
    return 'configuration changed; reconnecting with it';
  }

  run(): Promise<number> {
    return this.retryLoop(async (config) => {
      this.reconnectNow = false;
      await this.dropKeptIfChanged(config);
      const persist = config.session.persist;
      const endpoint = config.session.endpoint!;
      if (this.status.state === 'reconnecting') this.status.set('reconnecting', this.status.reason);
      else this.status.set('connecting', formatEndpoint(endpoint.host, endpoint.port));
      let run: LinkRun;
      try {
        run = await this.runLink(config, this.secret, (ctx) => this.protocol.dial(ctx), {
          keepRoutes: persist === 'keep',
          onLink: (link) => {
            this.activeLink = link;
            if (this.reconnectNow) void link.close('reload');
          },
        });
      } finally {
        this.activeLink = null;
        // what a kept device and routes were made with, even if the link threw (as the server)
        if (persist === 'keep') this.keepLink(config);
      }
      const connected = run.kind === 'ended' && run.connected;
      if (this.ctx.signal.aborted) return { kind: 'stop', exitCode: ExitCode.ok, connected };
      const reason = this.describeRun(run);
      this.logRun(run);
      if (persist !== 'keep') this.closeDevice();
      if (this.reconnectNow) {
        this.status.set('reconnecting', 'reload');
        return { kind: 'now', connected };
      }
      if (persist === 'no') return { kind: 'stop', exitCode: run.kind === 'ended' && isOrderlyEnd(run.end) ? ExitCode.ok : ExitCode.failure, connected };
      return { kind: 'retry', reason, capMs: reconnectCapMs(config.session.keepalive), connected };
    }, () => this.reconnectNow);
  }
}
