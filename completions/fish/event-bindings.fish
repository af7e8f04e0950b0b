# fish completion for event-bindings(1)
set -l cmds list resolve explain check import
complete -c event-bindings -f
complete -c event-bindings -n "not __fish_seen_subcommand_from $cmds" -a list -d 'print every binding'
complete -c event-bindings -n "not __fish_seen_subcommand_from $cmds" -a resolve -d 'binding and topic of event types'
complete -c event-bindings -n "not __fish_seen_subcommand_from $cmds" -a explain -d 'what the relay would do with CloudEvents'
complete -c event-bindings -n "not __fish_seen_subcommand_from $cmds" -a check -d 'lint the file, check topics'
complete -c event-bindings -n "not __fish_seen_subcommand_from $cmds" -a import -d 'import a Spring Cloud Stream YAML file'
complete -c event-bindings -n "__fish_seen_subcommand_from import; and not __fish_seen_subcommand_from spring" -a spring -d 'Spring Cloud Stream application.yml'
complete -c event-bindings -n "__fish_seen_subcommand_from spring" -F
complete -c event-bindings -n "__fish_seen_subcommand_from explain" -F
complete -c event-bindings -n "__fish_seen_subcommand_from resolve" -a "(event-bindings list 2>/dev/null | string match -r '^producer\t[^\t]+' | string replace -r '^producer\t' '')" -d 'event type'
complete -c event-bindings -s B -l bindings -r -F -d 'bindings file'
complete -c event-bindings -s j -l json -d 'JSON output (list, resolve, explain)'
complete -c event-bindings -l on-error -x -a 'fail skip' -d 'explain: bad line policy'
complete -c event-bindings -l max-line -x -d 'explain: longest input line'
complete -c event-bindings -s b -l brokers -x -d 'check: Kafka bootstrap servers'
complete -c event-bindings -s X -l property -x -d 'check: librdkafka property PROP=VALUE'
complete -c event-bindings -s F -l config-file -r -F -d 'check: librdkafka properties file'
complete -c event-bindings -l timeout -x -d 'check: cluster timeout'
complete -c event-bindings -s q -l quiet -d 'no warnings'
complete -c event-bindings -s v -l verbose -d 'more messages'
complete -c event-bindings -s h -l help -d 'print help'
complete -c event-bindings -s V -l version -d 'print version'
