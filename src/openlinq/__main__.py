from openlinq.cli import app

app(prog_name="openlinq")
