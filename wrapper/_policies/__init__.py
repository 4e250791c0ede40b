"""_policies"""
