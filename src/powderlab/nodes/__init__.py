"""powderlab.nodes"""
