import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../infra/local/postgres';

/**
 * A TCP proxy a test can cut or stall: while cut, it refuses new connections and has dropped the
 * open ones, as a database or endpoint that went away would; while held, it keeps every
 * connection open but forwards nothing the client sends, as a dependency that stopped answering
 * would, and forwards it all on `release`. Restored, it forwards again on the same port. Nothing
 * is faked: the traffic is the real protocol to the real server.
 */
export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Stops forwarding what clients send (open connections and new ones) until `release`. */
  hold(): void;
  /** Forwards what was held, and everything after it. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  /** Client sockets and their upstream, for holding and releasing what they send. */
  const pairs = new Map<Socket, Socket>();
  let server: Server | undefined;
  let held = false;

  const listen = async (): Promise<void> => {
    const next = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      sockets.add(client);
      sockets.add(upstream);
      pairs.set(client, upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
        pairs.delete(client);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      if (held) client.pause();
      else client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    server = next;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    pairs.clear();
    if (current !== undefined) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return {
    port,
    cut: stop,
    restore: async () => {
      if (server === undefined) await listen();
    },
    hold: () => {
      held = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        client.pause();
      }
    },
    release: () => {
      held = false;
      // Piping resumes the client: what it buffered meanwhile goes first.
      for (const [client, upstream] of pairs) client.pipe(upstream);
    },
    close: stop,
  };
}
