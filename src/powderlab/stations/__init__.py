"""powderlab.stations"""
