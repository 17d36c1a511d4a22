# Sourced by the launch scripts: temporary directories they make and remove, and nothing else.
# Scripts run as root, so a removal must never reach a path the script did not make itself.
#
#   dir="$(shardlm_make_temp_dir purpose)"   # mktemp -d "<temp root>/shardlm-purpose-XXXXXX"
#   shardlm_remove_temp_dir "$dir"           # refuses anything but such a directory

shardlm_temp_root() { (cd "${TMPDIR:-/tmp}" && pwd -P); }

shardlm_make_temp_dir() {
  local root
  root="$(shardlm_temp_root)" || { echo "temp-dir: no temporary root '${TMPDIR:-/tmp}'" >&2; return 1; }
  mktemp -d "$root/shardlm-$1-XXXXXX"
}

# Removes $1 only when it is a real directory (not a link) directly under the temporary root, named
# shardlm-*, and not the root itself; anything else is refused with a message and status 1.
shardlm_remove_temp_dir() {
  local dir="$1" root parent
  [ -e "$dir" ] || [ -L "$dir" ] || return 0
  root="$(shardlm_temp_root)" || { echo "temp-dir: no temporary root; not removing '$dir'" >&2; return 1; }
  case "$(basename -- "$dir")" in shardlm-*) ;; *)
    echo "temp-dir: refusing to remove '$dir': its name does not start with shardlm-" >&2; return 1 ;;
  esac
  if [ -L "$dir" ] || [ ! -d "$dir" ]; then
    echo "temp-dir: refusing to remove '$dir': not a directory (a link or a file)" >&2; return 1
  fi
  parent="$(cd "$(dirname -- "$dir")" && pwd -P)"
  if [ "$parent" != "$root" ] || [ "$(cd "$dir" && pwd -P)" = "$root" ]; then
    echo "temp-dir: refusing to remove '$dir': not directly under the temporary root '$root'" >&2; return 1
  fi
  rm -rf -- "$parent/$(basename -- "$dir")"
}
