// The role of a session whose protocol has no connect or accept phase (an InterfaceProtocol:
// WireGuard). The protocol opens one link for the session's device and socket and runs every
// peer's handshakes inside it; the session moves between handshaking and connected as the link's
// readiness says, without reconnecting. A reload goes to the running link (Link.reconfigure). Only
// when the link itself fails (its device or socket) does the session bring it up again, with the
// back-off of Session.retryLoop.
//
// States: starting -> handshaking -> connected <-> handshaking ... ; a failed link or a reload
// that brings the interface up again: reconnecting -> handshaking; any -> stopping -> stopped.
// While PreUp runs nothing is up yet: the session still says starting (or reconnecting), as a
// client does before it dials, and handshaking only once the interface is being made.
import { isDeepStrictEqual } from 'node:util';
import type { SessionConfig } from '../config/types.js';
import { ExitCode } from '../exit.js';
import type { SessionReporter } from '../status/types.js';
import { runHooks } from './hooks.js';
import type { InterfaceProtocol, Link } from './protocol.js';
import { Session, errorText, type SessionContext } from './session.js';
import { TundError, hintOf } from '../errors.js';
import type { Address } from '../socket.js';

export class InterfaceSession extends Session<InterfaceProtocol> {
  private activeLink: Link | null = null;

  constructor(protocol: InterfaceProtocol, config: SessionConfig, secret: Buffer, ctx: SessionContext, reporter: SessionReporter) {
    super(protocol, config, secret, ctx, reporter, config.session.role);
  }

  protected reloadProblem(fresh: SessionConfig): string | null {
    if (fresh.session.protocol !== this.config.session.protocol) return `Protocol changed to ${fresh.session.protocol}; restart the session to change it`;
    return null;
  }

  protected async applyReload(fresh: SessionConfig, secret: Buffer, unchanged: boolean): Promise<string> {
    if (unchanged) return 'configuration unchanged';
    const link = this.activeLink;
    // the device and the hooks are the session's: a change there brings the interface up again;
    // routes and DNS (the peers' AllowedIPs) are replaced beside the running link
    const sameDevice = isDeepStrictEqual(fresh.device, this.config.device) && isDeepStrictEqual(fresh.hooks, this.config.hooks);
    if (link?.reconfigure && sameDevice) {
      // Routes and DNS first, through the same plan as at the start: the part a reload most
      // often cannot make (a DNS backend that refuses) fails before anything else changed. Either
      // failure (routes, or the running link rejecting the peers) puts the old routes and DNS
      // back, and the reload fails: the old configuration stays, as the outcome says.
      const old = this.config;
      const endpoint = link.peers()[0]?.endpoint ?? null;
      const routesChanged = !isDeepStrictEqual(fresh.route, old.route);
      if (routesChanged) await this.replaceRoutes(fresh, old, endpoint);
      let message: string;
      try {
        message = await link.reconfigure(fresh, secret);
      } catch (error) {
        if (routesChanged) await this.replaceRoutes(old, fresh, endpoint).catch((again) => this.logProblem(`routes: ${errorText(again)}`, hintOf(again)));
        throw error;
      }
      this.config = fresh;
      this.secret = secret;
      return routesChanged ? `${message}; routes and DNS replaced` : message;
    }
    this.pending = { config: fresh, secret };
    this.wake?.();
    if (!link) return 'configuration changed; the interface comes up with it now';
    void link.close('reload');
    return 'configuration changed (device or hooks); the interface comes up again with it';
  }

  /**
   * The routes and DNS of `to` in place of those of `from`; when `to`'s cannot be set (what was
   * made of them is taken back), `from`'s again, and the error says what failed.
   */
  private async replaceRoutes(to: SessionConfig, from: SessionConfig, endpoint: Address | null): Promise<void> {
    await this.removeRoutes();
    try {
      await this.applyRoutes(to, endpoint);
    } catch (error) {
      let restored = 'the previous routes and DNS are set again';
      try {
        await this.applyRoutes(from, endpoint);
      } catch (again) {
        restored = `the previous ones could not be set again either (${errorText(again)})`;
      }
      throw new TundError(`routes and DNS of the new configuration: ${errorText(error)}; ${restored}`, { hint: hintOf(error) });
    }
  }

  private hookEnv(config: SessionConfig): Record<string, string> {
    return { TUND_SESSION: config.name, TUND_DEVICE: config.device.name, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  }

  run(): Promise<number> {
    return this.retryLoop(async (config) => {
      // a new attempt: the wait before it is over (no next attempt to show), its reason stays
      if (this.status.state === 'reconnecting') this.status.set('reconnecting', this.status.reason);
      const preUp = config.hooks.preUp ?? [];
      const preUpFailure = preUp.length ? await runHooks(preUp, this.hookEnv(config), this.ctx.echo, this.log, { stopOnFailure: config.hooks.abortOnFailure }) : null;
      if (preUpFailure) {
        // wg-quick: nothing is set up after a failing PreUp
        this.log(`not up: ${preUpFailure}`);
        return { kind: 'stop', exitCode: ExitCode.failure, connected: false };
      }
      this.status.set('handshaking');
      const run = await this.runLink(config, this.secret, (ctx) => this.protocol.open(ctx), {
        keepRoutes: false,
        onLink: (link) => (this.activeLink = link),
      });
      this.activeLink = null;
      this.closeDevice();
      const connected = run.kind === 'ended' && run.connected;
      if (run.kind === 'failed' && run.abort) {
        this.logProblem(`not up: ${run.message}`, run.hint);
        return { kind: 'stop', exitCode: ExitCode.failure, connected };
      }
      const postDown = config.hooks.postDown ?? [];
      if (postDown.length) await runHooks(postDown, this.hookEnv(config), this.ctx.echo, this.log);
      if (this.ctx.signal.aborted) return { kind: 'stop', exitCode: ExitCode.ok, connected };
      const reason = this.describeRun(run);
      this.logRun(run, 'interface down');
      if (this.pending) {
        // a reload that changed the device or hooks: up again at once, as a client reconnects
        this.status.set('reconnecting', 'reload');
        return { kind: 'now', connected };
      }
      if (config.session.persist === 'no') return { kind: 'stop', exitCode: ExitCode.failure, connected };
      return { kind: 'retry', reason, connected };
    }, () => this.pending !== null);
  }
}
