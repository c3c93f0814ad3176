"""powderlab.planner"""
