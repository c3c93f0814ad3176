"""powderlab.bringup"""
