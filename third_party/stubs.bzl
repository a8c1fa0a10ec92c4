"""Stand-ins for repositories Bazel 4.2.3 would otherwise download.

Why: offline, Bazel's own WORKSPACE suffix points @rules_cc and
@remote_coverage_tools at github.com / mirror.bazel.build. Debian's
bazel-rules-cc 0.0.4 does not load under bazel-bootstrap 4.2.3, so @rules_cc
forwards to the native C++ rules; @remote_coverage_tools only needs the two
targets test rules reference (coverage itself is not supported offline).
"""

_RULES_CC_DEFS = '''"""Forwards rules_cc's public macros to Bazel's native C++ rules."""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_shared_library(**attrs):
    native.cc_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)
'''

_COVERAGE_BUILD = '''package(default_visibility = ["//visibility:public"])

# Coverage is not available offline; these satisfy the implicit
# dependencies of test rules.
sh_binary(
    name = "coverage_report_generator",
    srcs = ["unsupported.sh"],
)

sh_binary(
    name = "lcov_merger",
    srcs = ["unsupported.sh"],
)

filegroup(
    name = "coverage_output_generator",
    srcs = ["unsupported.sh"],
)
'''

_UNSUPPORTED_SH = '''#!/bin/sh
echo "coverage is not supported by FlareDB's offline Bazel setup" >&2
exit 1
'''

def _stub_repository_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    for path, content in ctx.attr.files.items():
        ctx.file(path, content, executable = path.endswith(".sh"))

_stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    attrs = {"files": attr.string_dict()},
)

def offline_stub_repositories():
    _stub_repository(
        name = "rules_cc",
        files = {
            "BUILD.bazel": "",
            "cc/BUILD.bazel": "",
            "cc/defs.bzl": _RULES_CC_DEFS,
        },
    )
    _stub_repository(
        name = "remote_coverage_tools",
        files = {
            "BUILD.bazel": _COVERAGE_BUILD,
            "unsupported.sh": _UNSUPPORTED_SH,
        },
    )
