"""_ledger"""
