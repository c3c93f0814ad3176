"""powderlab.twin"""
