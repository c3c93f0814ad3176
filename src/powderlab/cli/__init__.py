"""powderlab.cli"""
