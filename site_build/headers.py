"""The Content-Security-Policy and other response headers, in every form a static host reads."""

from __future__ import annotations

from urllib.parse import urlsplit


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


def netlify_headers_file(endpoint: str) -> str:
    """`_headers` as Netlify and Cloudflare Pages read it (paths relative to where dist/ is served)."""
    lines = ["/*"] + [f"  {k}: {v}" for k, v in security_headers(endpoint).items()]
    lines += ["/*.wasm", "  Content-Type: application/wasm"]
    return "\n".join(lines) + "\n"


def nginx_snippet(endpoint: str) -> str:
    """For the server (or `location`) block serving dist/ with `root`.

    A `types { }` block there would replace the whole MIME map (index.html would become
    application/octet-stream), so .mjs and .wasm get nested locations of their own. add_header is
    inherited only by blocks that have none of their own: hence one place for all of them.
    """
    body = "\n".join(f'add_header {k} "{v}" always;' for k, v in security_headers(endpoint).items())
    return (
        "# in the server (or location) block serving dist/ with `root`, after `include mime.types;`\n"
        f"{body}\n"
        "# module scripts must be JavaScript, and loadPyodide hangs on .wasm of another type;\n"
        "# nested locations, because a `types` block here would replace the whole MIME map\n"
        "location ~ \\.mjs$ { types { text/javascript mjs; } }\n"
        "location ~ \\.wasm$ { types { application/wasm wasm; } }\n"
    )


def apache_snippet(endpoint: str) -> str:
    body = "\n".join(f'Header always set {k} "{v}"' for k, v in security_headers(endpoint).items())
    return (
        "# in the <VirtualHost> or <Directory> serving dist/ (needs mod_headers)\n"
        f"{body}\n"
        "AddType text/javascript .mjs\n"
        "AddType application/wasm .wasm\n"
    )
