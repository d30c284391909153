"""Thin routes: parse, call one service, render."""
