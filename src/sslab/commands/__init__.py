"""Extra subcommands. Each module here defines ``register(commands, data_commands)``,
adding its parsers to ``sslab`` (commands) or ``sslab data`` (data_commands); each
parser sets ``func`` to a callable taking the parsed arguments and returning an exit code.
"""
