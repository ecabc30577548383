#!/bin/sh
# stage_source.sh REPO STAGE: make STAGE anew with what `make install-*` installs,
# the code, the units, the config and the docs all from the same copy. From a clone:
# its last commit (git archive HEAD), saying on stderr when changes not committed are
# left out. Without .git (a ZIP download): the files as they are, saying so. Never
# written in REPO: a build there as root left root's build/ and *.egg-info behind.
set -eu
repo=$1
stage=$2
rm -rf "$stage.new"
mkdir -p "$stage.new"
if [ -e "$repo/.git" ]; then
    # as root in another user's clone, git refuses to read it (safe.directory)
    git_repo() { git -c safe.directory="$repo" -C "$repo" "$@"; }
    changed=$(git_repo status --porcelain)
    if [ -n "$changed" ]; then
        echo "make: $repo has changes not committed; they are NOT installed (installing its last commit, $(git_repo rev-parse --short HEAD)): commit them to install them" >&2
        echo "$changed" | head -n 10 >&2
    fi
    git_repo archive -o "$stage.new.tar" HEAD
    tar -x -f "$stage.new.tar" -C "$stage.new"
    rm -f "$stage.new.tar"
else
    echo "make: $repo is not a git clone: installing its files as they are" >&2
    (cd "$repo" && tar -c --exclude=./.git --exclude=./.venv --exclude=./.typecheck \
        --exclude=./.hypothesis --exclude=./build --exclude=./var --exclude='*.egg-info' \
        --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache \
        --exclude=.ruff_cache .) | tar -x -C "$stage.new"
fi
rm -rf "$stage"
mv "$stage.new" "$stage"
