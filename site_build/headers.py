"""The Content-Security-Policy and other response headers, in every form a static host reads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Caching. The runtime's folder is named after a hash of what it holds (`pyodide-<16 hex>/` at the site's root):
# new contents get a new URL, so its files are kept a year and never revalidated. 31536000 s is a year, the
# customary ceiling (RFC 2616 14.21 said servers should not send more), and `immutable` (RFC 8246) spares the
# revalidation browsers otherwise do on reload. Everything else (index.html, config.json, the app's scripts, the
# manifest) keeps its URL across releases: `no-cache` lets a browser store it but makes it ask the server first,
# so a new release is seen on the next visit. The folder is matched as any path segment, so a mirror serving the
# site from a sub-path (/mirror/sub/pyodide-.../) gets the same rule.
RUNTIME_FOLDER = r"(?:^|/)pyodide-[0-9a-f]{16}/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# (regex, Cache-Control): the first whose regex is found in a path wins. The hash bank's static mount takes these
# as they are (hashbank.Config.static_cache_rules).
CACHE_RULES: tuple[tuple[str, str], ...] = ((RUNTIME_FOLDER, IMMUTABLE), ("", REVALIDATE))


def endpoint_origin(endpoint: str) -> str | None:
    """The origin of an absolute endpoint URL; None when it is relative (same origin)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(endpoint: str, for_header: bool) -> str:
    """The site's CSP. Pyodide compiles WebAssembly at run time (the interpreter and each wheel's
    .so files), which needs 'wasm-unsafe-eval' and nothing broader: the browser tests load and
    hash under exactly this policy, so a need for 'unsafe-eval' would show up as a failure."""
    connect = "'self'" + (f" {endpoint_origin(endpoint)}" if endpoint_origin(endpoint) else "")
    directives = [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        f"connect-src {connect}",
        "img-src 'self' blob:",  # thumbnails are object URLs of the person's own files
        "style-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    if for_header:  # not allowed in <meta>
        directives.append("frame-ancestors 'none'")
    return "; ".join(directives)


def security_headers(endpoint: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(endpoint, for_header=True),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


def cache_control(path: str) -> str:
    """The Cache-Control of a file of the site, by its path relative to the site's root."""
    return next(value for pattern, value in CACHE_RULES if re.search(pattern, path))


def netlify_headers_file(endpoint: str) -> str:
    """`_headers` as Netlify and Cloudflare Pages read it (paths relative to where dist/ is served).

    Both apply every rule that matches and join a header set by two rules with a comma, so Cache-Control is
    set only for the runtime folder (`*` matches across slashes there); other files keep the hosts' default,
    `public, max-age=0, must-revalidate`, which is `no-cache` in other words. `*` cannot say "16 hex digits":
    nothing else at the root starts with `pyodide-`. Both hosts compress on their own (brotli or gzip, by
    the browser's Accept-Encoding): the .br/.gz siblings are served only to whoever asks for them by name.
    """
    lines = ["/*"] + [f"  {k}: {v}" for k, v in security_headers(endpoint).items()]
    lines += ["/*.wasm", "  Content-Type: application/wasm"]
    lines += ["/pyodide-*", f"  Cache-Control: {IMMUTABLE}"]
    return "\n".join(lines) + "\n"


def nginx_snippet(endpoint: str) -> str:
    """For the server (or `location`) block serving dist/ with `root`.

    A `types { }` block there would replace the whole MIME map (index.html would become
    application/octet-stream), so .mjs and .wasm get nested locations of their own. add_header is
    inherited only by blocks that have none of their own: the runtime folder's location, which adds
    Cache-Control, repeats the site's headers, and nests the .mjs/.wasm locations again (the first
    regex location that matches wins, so it comes before them). Its immutable Cache-Control has no
    `always`: a 404 there must not be kept for a year.

    gzip_static (in Debian's nginx-light) sends `<file>.gz` when the client accepts gzip, and with
    gzip_vary adds `Vary: Accept-Encoding` to every file that has a .gz, sent compressed or not.
    brotli_static is a third-party module (ngx_brotli) that a stock nginx lacks, where the directive
    would stop nginx from starting: so it is printed commented out, for servers that load it.
    """
    site = "\n".join(f'add_header {k} "{v}" always;' for k, v in security_headers(endpoint).items())
    types = (
        "location ~ \\.mjs$ { types { text/javascript mjs; } }\n"
        "location ~ \\.wasm$ { types { application/wasm wasm; } }\n"
    )
    return (
        "# in the server (or location) block serving dist/ with `root`, after `include mime.types;`\n"
        f"{site}\n"
        f'add_header Cache-Control "{REVALIDATE}" always;\n'
        "# dist/ has a .gz and a .br beside each file that compresses: sent to clients that accept them\n"
        "gzip_static on;\n"
        "gzip_vary on;\n"
        "# brotli_static on;  # only where the ngx_brotli module is loaded (Debian: libnginx-mod-http-brotli-static)\n"
        "# the runtime's folder is named after a hash of its contents: kept a year. A block with an add_header\n"
        "# of its own inherits none, so the site's headers are repeated; before the other regex locations,\n"
        "# because the first that matches wins\n"
        'location ~ "/pyodide-[0-9a-f]{16}/" {\n'
        + _indent(f'{site}\nadd_header Cache-Control "{IMMUTABLE}";\n{types}')
        + "}\n"
        "# module scripts must be JavaScript, and loadPyodide hangs on .wasm of another type;\n"
        "# nested locations, because a `types` block here would replace the whole MIME map\n"
        f"{types}"
    )


# An Accept-Encoding that accepts the coding: named, with no q or a q above 0 (q=0 refuses it).
_APACHE_ACCEPTS = r'"(^|,)\s*{}\s*(;\s*q=(1|0\.[0-9]*[1-9])|,|$)"'


def apache_snippet(endpoint: str) -> str:
    """For Apache 2.4 (mod_headers, mod_mime, mod_rewrite); not run by the tests (no Apache there).

    In a <Directory> or .htaccess, because only there does %{REQUEST_FILENAME} name the file on disk.

    Precompressed siblings the way Apache's mod_deflate manual serves them: mod_rewrite picks the
    sibling when the client accepts its coding and it exists; mod_mime reads every extension of a
    name, so with .br/.gz as encodings (and no longer as types) `index.html.br` goes out as
    text/html with `Content-Encoding: br`. no-gzip/no-brotli keep mod_deflate/mod_brotli from
    compressing it again. Vary goes on every response (Apache cannot cheaply tell which files have
    siblings), which only costs shared caches a key.
    """
    site = "\n".join(f'Header always set {k} "{v}"' for k, v in security_headers(endpoint).items())
    siblings = ""
    for coding, suffix in (("br", ".br"), ("gzip", ".gz")):
        siblings += (
            f'RewriteCond "%{{HTTP:Accept-Encoding}}" {_APACHE_ACCEPTS.format(coding)} [NC]\n'
            f'RewriteCond "%{{REQUEST_FILENAME}}{suffix}" -f\n'
            f'RewriteRule "^(.+)$" "$1{suffix}" [E=no-gzip:1,E=no-brotli:1,END]\n'
        )
    return (
        "# in the <Directory> serving dist/ or an .htaccess (mod_rewrite tests files only there);\n"
        "# needs mod_headers, mod_mime and mod_rewrite\n"
        f"{site}\n"
        "AddType text/javascript .mjs\n"
        "AddType application/wasm .wasm\n"
        "# the runtime's folder is named after a hash of its contents: kept a year; the rest is revalidated\n"
        f'Header set Cache-Control "{REVALIDATE}"\n'
        '<If "%{REQUEST_URI} =~ m#/pyodide-[0-9a-f]{16}/#">\n'
        f'  Header set Cache-Control "{IMMUTABLE}"\n'
        "</If>\n"
        "# dist/ has a .br and a .gz beside each file that compresses: sent to clients that accept them\n"
        "RemoveType .br .gz\n"
        "AddEncoding br .br\n"
        "AddEncoding gzip .gz\n"
        "Header merge Vary Accept-Encoding\n"
        "RewriteEngine On\n"
        f"{siblings}"
    )


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())
