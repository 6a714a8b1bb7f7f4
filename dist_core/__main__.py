"""``python -m dist_core COMMAND``: the library's command line (``render``: pictures of a DeepSDF experiment)."""

import sys

COMMANDS = {"render": "render depth, normals and silhouette of a DeepSDF experiment's latent code"}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m dist_core COMMAND [options]\n\ncommands:", file=sys.stderr if argv else sys.stdout)
        for name, text in COMMANDS.items():
            print(f"  {name:<8} {text}", file=sys.stderr if argv else sys.stdout)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    from .render_command import main as render_main

    return render_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
