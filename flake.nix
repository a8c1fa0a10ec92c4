# Development shell for FlareDB: `nix develop`.
# Not exercised on FlareDB's own machines (Debian, offline Bazel 4.2.3);
# .ci/run only checks that this file parses when nix-instantiate is present.
{
  description = "FlareDB: a Raft-replicated key-value store in Go";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.go
            pkgs.bazel_7
            pkgs.protobuf
            pkgs.rocksdb
            pkgs.clang
            pkgs.pkg-config
            pkgs.prometheus
          ];
          # grocksdb links the system librocksdb through cgo.
          CGO_ENABLED = "1";
        };
      });
    };
}
