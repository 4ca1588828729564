# bash completion for armctl (issue 15): its commands and options, and the names of the services
# of the armd it would talk to (asked with `armctl --json status`; nothing when none answers).
# Kept in step with armctl --help by tests/install/test_completion.py.

_armctl_services() {
  local -a socket=()
  [[ -n $1 ]] && socket=(--socket "$1")
  # The JSON is indented one field a line: `"name": "web",` names a service.
  armctl "${socket[@]}" --json status 2>/dev/null |
    sed -n 's/^    "name": "\([^"]*\)",\{0,1\}$/\1/p'
}

_armctl() {
  local cur prev
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="start stop restart reset reload-service status graph logs monitor reload
    reexec shutdown metrics import"

  # The command, and the --socket given before it (service names come from that armd).
  local command="" socket="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --socket) socket=${COMP_WORDS[i+1]}; ((i++)) ;;
      -*) ;;
      *) command=${COMP_WORDS[i]}; break ;;
    esac
  done

  if [[ $prev == --socket ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--socket --json --version -h --help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return
  fi

  local options="--json -h --help" names=yes
  case $command in
    start) options+=" --all" ;;
    stop | restart) options+=" --all --force" ;;
    reset | reload-service | status | monitor) ;;
    logs)
      options+=" -n --lines -f --follow --since"
      [[ $prev == -n || $prev == --lines || $prev == --since ]] && return
      ;;
    graph) options="--dot -h --help" names="" ;;
    reload | reexec | shutdown) names="" ;;
    metrics) options="-h --help" names="" ;;
    import)
      # A file to import, not a service; --from takes the format.
      if [[ $prev == --from ]]; then
        COMPREPLY=($(compgen -W "supervisord systemd" -- "$cur"))
      elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--from -h --help" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi
      return
      ;;
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [[ -n $names ]]; then
    COMPREPLY=($(compgen -W "$(_armctl_services "$socket")" -- "$cur"))
  fi
}

complete -F _armctl armctl
