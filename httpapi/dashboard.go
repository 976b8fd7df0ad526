package httpapi

func (s *server) routesDashboard() error { return nil }
