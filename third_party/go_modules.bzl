"""Repository rules that fetch Go modules through the Go module proxy.

Why these exist: the machines that build FlareDB reach the Go module proxy and
Debian's archive, but not GitHub or the Bazel Central Registry. Rule sets that
are themselves Go modules (rules_go, gazelle) and every third-party Go
dependency are therefore fetched with `go mod download`, checked against a
pinned go.sum hash, and (for dependencies) given BUILD files by Gazelle v0.38.0,
the same Gazelle that tools/gazelle.sh runs over our own tree.

- go_module_archive: a module used as a Bazel repository as-is, plus patches
  (rules_go v0.34.0 with third_party/rules_go/*.patch).
- gazelle_binary: builds the Gazelle binary from its module (module mode,
  through the proxy) and teaches it the host SDK's standard library list.
- go_repository: a third-party Go module with generated BUILD files; the
  instances are generated from go.mod into //:deps.bzl by tools/gazelle.sh.
"""

# Gazelle runs from source inside a repository rule; pin it once here.
GAZELLE_VERSION = "v0.38.0"
GAZELLE_SUM = "h1:7SABASdzy94tbvklgX8ThG+1y7ZNl2eFYRVevjOXpgw="

# Per-module Gazelle directives that go.mod cannot express. Keyed by module
# path so //:deps.bzl stays a pure function of go.mod.
_MODULE_DIRECTIVES = {
    # grocksdb links the system librocksdb (Debian's librocksdb-dev). Its
    # testing_*.go files point cgo at a vendored dist/ tree we do not have;
    # only the non_builtin*.go link flags apply to us.
    "github.com/linxGnu/grocksdb": [
        "gazelle:exclude testing_*.go",
    ],
}

def _go_tool(ctx):
    """Returns the host `go` binary: GOROOT/bin/go, PATH, then /usr/local/go."""
    goroot = ctx.os.environ.get("GOROOT", "")
    if goroot and ctx.path(goroot + "/bin/go").exists:
        return ctx.path(goroot + "/bin/go")
    go = ctx.which("go")
    if go:
        return go
    if ctx.path("/usr/local/go/bin/go").exists:
        return ctx.path("/usr/local/go/bin/go")
    fail("no Go SDK found: put go on PATH or set GOROOT (FlareDB builds with the host SDK)")

def _go_env(ctx):
    """Environment for go commands run by repository rules."""
    env = {
        "GO111MODULE": "on",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        # The pinned go.sum hash is checked below, so the checksum database
        # (not reachable everywhere) is not needed.
        "GOSUMDB": "off",
        "CGO_ENABLED": "0",
    }
    for k in ["GOPROXY", "GOPRIVATE", "GONOPROXY", "GOMODCACHE", "GOCACHE", "GOPATH", "HOME", "PATH"]:
        v = ctx.os.environ.get(k, "")
        if v:
            env[k] = v
    if "HOME" not in env and "GOMODCACHE" not in env:
        env["GOMODCACHE"] = str(ctx.path("../go_module_cache"))
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(ctx.path("../go_build_cache"))
    return env

def _download(ctx, module, version, sum):
    """Downloads module@version and copies it into the repository root.

    The module zip's go.sum hash must equal the pinned one; the copy is
    writable so patches and generated BUILD files can be applied."""
    ctx.report_progress("go mod download %s@%s" % (module, version))
    res = ctx.execute(
        [_go_tool(ctx), "mod", "download", "-json", "%s@%s" % (module, version)],
        environment = _go_env(ctx),
        timeout = 600,
    )
    if res.return_code:
        fail("go mod download %s@%s failed (is GOPROXY reachable?): %s%s" % (module, version, res.stdout, res.stderr))
    info = json.decode(res.stdout)
    if info.get("Error"):
        fail("go mod download %s@%s: %s" % (module, version, info["Error"]))
    if sum and info["Sum"] != sum:
        fail("%s@%s: hash %s does not match the pinned %s" % (module, version, info["Sum"], sum))
    res = ctx.execute(["cp", "-R", info["Dir"] + "/.", "."])
    if res.return_code:
        fail("copying %s: %s" % (info["Dir"], res.stderr))
    ctx.execute(["chmod", "-R", "u+w", "."])

def _apply_patches(ctx):
    for p in ctx.attr.patches:
        ctx.patch(p, strip = ctx.attr.patch_strip)

def _go_module_archive_impl(ctx):
    _download(ctx, ctx.attr.module, ctx.attr.version, ctx.attr.sum)
    _apply_patches(ctx)

go_module_archive = repository_rule(
    implementation = _go_module_archive_impl,
    doc = "A Go module (that is already a Bazel workspace) fetched through the Go module proxy.",
    attrs = {
        "module": attr.string(mandatory = True),
        "version": attr.string(mandatory = True),
        "sum": attr.string(mandatory = True, doc = "go.sum-style h1: hash of the module zip"),
        "patches": attr.label_list(),
        "patch_strip": attr.int(default = 1),
    },
    # Not PATH: a different shell PATH must not refetch every module.
    environ = ["GOPROXY", "GOROOT"],
)

# Written next to Gazelle's own std_package_list.go so that packages added to
# the standard library after Gazelle's release (iter, unique, weak, ...) are
# not mistaken for third-party imports.
_STD_EXTRA_GO = """// Code generated by //third_party:go_modules.bzl from `go list std`. DO NOT EDIT.

package golang

func init() {
\tfor _, p := range []string{
%s\t} {
\t\tstdPackages[p] = true
\t}
}
"""

def _gazelle_binary_impl(ctx):
    _download(ctx, "github.com/bazelbuild/bazel-gazelle", GAZELLE_VERSION, GAZELLE_SUM)
    go = _go_tool(ctx)
    env = _go_env(ctx)
    res = ctx.execute([go, "list", "std"], environment = env)
    if res.return_code:
        fail("go list std: " + res.stderr)
    pkgs = "".join(["\t\t%s,\n" % json.encode(p) for p in res.stdout.strip().split("\n")])
    ctx.file("language/go/std_package_list_host.go", _STD_EXTRA_GO % pkgs, executable = False)
    ctx.report_progress("building gazelle " + GAZELLE_VERSION)
    res = ctx.execute(
        [go, "build", "-trimpath", "-o", "bin/gazelle", "./cmd/gazelle"],
        environment = env,
        timeout = 900,
    )
    if res.return_code:
        fail("building gazelle: " + res.stderr)

    # Only the binary is used; drop Gazelle's own BUILD files so that
    # this repository has a single, small package.
    ctx.execute(["find", ".", "-name", "BUILD.bazel", "-delete"])
    ctx.execute(["find", ".", "-name", "BUILD", "-type", "f", "-delete"])
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", 'exports_files(["bin/gazelle"])\n')

gazelle_binary = repository_rule(
    implementation = _gazelle_binary_impl,
    doc = "Gazelle built from source with the host Go SDK.",
    # Not PATH: a different shell PATH must not refetch every module.
    environ = ["GOPROXY", "GOROOT"],
)

def _go_repository_impl(ctx):
    _download(ctx, ctx.attr.importpath, ctx.attr.version, ctx.attr.sum)

    # Always generate BUILD files with our Gazelle so labels follow one
    # convention, whatever the module ships.
    ctx.execute(["find", ".", "(", "-name", "BUILD.bazel", "-o", "-name", "BUILD", ")", "-type", "f", "-delete"])
    for f in ["WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel", "REPO.bazel"]:
        ctx.delete(f)
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    directives = _MODULE_DIRECTIVES.get(ctx.attr.importpath, []) + ctx.attr.build_directives
    if directives:
        ctx.file("BUILD.bazel", "".join(["# %s\n" % d for d in directives]))

    # Gazelle resolves imports of other modules through the go_repository
    # calls in deps.bzl; give it a config that names only that file so that
    # editing WORKSPACE does not refetch every dependency.
    ctx.symlink(ctx.attr.repo_config, "_gazelle_config/deps.bzl")
    ctx.file(
        "_gazelle_config/WORKSPACE",
        "# gazelle:repository_macro deps.bzl%go_dependencies\n",
    )
    cmd = [
        ctx.path(ctx.attr._gazelle),
        "-go_repository_mode",
        "-go_repository_module_mode",
        "-go_prefix",
        ctx.attr.importpath,
        "-mode",
        "fix",
        "-repo_root",
        ctx.path(""),
        "-repo_config",
        ctx.path("_gazelle_config/WORKSPACE"),
        "-build_file_name",
        "BUILD.bazel,BUILD",
        "-proto",
        "disable_global",
        "-go_naming_convention",
        "import_alias",
        "-exclude",
        "_gazelle_config",
    ] + ctx.attr.build_extra_args + [ctx.path("")]
    ctx.report_progress("gazelle " + ctx.attr.importpath)
    res = ctx.execute(cmd, environment = _go_env(ctx), timeout = 600)
    if res.return_code:
        fail("gazelle for %s: %s" % (ctx.attr.importpath, res.stderr))
    ctx.delete("_gazelle_config")
    _apply_patches(ctx)

go_repository = repository_rule(
    implementation = _go_repository_impl,
    doc = "A third-party Go module fetched with `go mod download`, BUILD files by Gazelle.",
    attrs = {
        "importpath": attr.string(mandatory = True, doc = "module path"),
        "version": attr.string(mandatory = True),
        "sum": attr.string(mandatory = True),
        "build_directives": attr.string_list(),
        "build_extra_args": attr.string_list(),
        # Accepted (and ignored) so gazelle's update-repos output loads as-is.
        "build_file_proto_mode": attr.string(),
        "patches": attr.label_list(),
        "patch_strip": attr.int(default = 1),
        "repo_config": attr.label(default = "@//:deps.bzl", allow_single_file = True),
        "_gazelle": attr.label(default = "@flaredb_gazelle//:bin/gazelle", allow_single_file = True),
    },
    # Not PATH: a different shell PATH must not refetch every module.
    environ = ["GOPROXY", "GOROOT"],
)
