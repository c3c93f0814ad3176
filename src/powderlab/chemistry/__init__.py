"""powderlab.chemistry"""
