"""The process ``openlinq serve`` becomes (``serving.exec_server``): the server alone.

Settings come from OPENLINQ_* variables (the CLI turned its flags into them), the
listening socket from the descriptor it inherited.
"""

from openlinq.banner import banner
from openlinq.config import Settings
from openlinq.serving import serve_inherited_socket

settings = Settings()
serve_inherited_socket(settings, banner(settings))
