def main() -> None:
    print("wallet: not built yet")
