import type { Express } from "express";

/** The parts of Express 5's router (router 2) read here: a layer is a route or a mounted router. */
interface RouterLayer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

function joinPath(prefix: string, path: string): string {
  const joined = `${prefix}/${path}`.replace(/\/+/g, "/");
  return joined.length > 1 ? joined.replace(/\/$/, "") : joined;
}

function walk(stack: RouterLayer[], prefix: string): string[] {
  return stack.flatMap((layer) => {
    const mounts = [layer.rawPath ?? "/"].flat();
    if (layer.route) {
      const paths = [layer.route.path].flat().map(String);
      return Object.keys(layer.route.methods)
        .filter((method) => method !== "_all")
        .flatMap((method) => paths.map((path) => `${method.toUpperCase()} ${joinPath(prefix, path)}`));
    }
    const inner = layer.handle?.stack;
    if (!inner) return [];
    return mounts.flatMap((mount) => walk(inner, joinPath(prefix, String(mount))));
  });
}

/** Every `METHOD /path` the app's router answers, walking mounted routers with their mount paths. */
export function mountedRoutes(app: Express): string[] {
  return [...new Set(walk((app as Express & { router: { stack: RouterLayer[] } }).router.stack, ""))];
}
