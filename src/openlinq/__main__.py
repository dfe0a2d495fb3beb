from openlinq.cli import app

app()
